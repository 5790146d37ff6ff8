package mail_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/writepath/writepath/internal/mail"
)

func TestDirWritesOneParsableFilePerMessage(t *testing.T) {
	d := mail.Dir{Path: filepath.Join(t.TempDir(), "outbox")}
	first, second := confirmation(), confirmation()
	second.ID = "ord_456.confirmation@writepath.invalid"

	for _, m := range []mail.Message{first, second} {
		if err := d.Send(context.Background(), m); err != nil {
			t.Fatalf("Send %s: %v", m.ID, err)
		}
	}

	names := list(t, d)
	want := []string{
		"ord_123.confirmation@writepath.invalid.eml",
		"ord_456.confirmation@writepath.invalid.eml",
	}
	if len(names) != 2 || names[0] != want[0] || names[1] != want[1] {
		t.Fatalf("List = %q, want %q", names, want)
	}
	data, err := os.ReadFile(filepath.Join(d.Path, names[0]))
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	msg, subject, _ := parse(t, data)
	if id := msg.Header.Get("Message-Id"); id != "<"+first.ID+">" || subject != first.Subject {
		t.Fatalf("file has Message-ID %q, subject %q; want <%s>, %q",
			id, subject, first.ID, first.Subject)
	}
	info, err := os.Stat(d.Path)
	if err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("directory mode = %v (%v), want 0700", info.Mode().Perm(), err)
	}
}

func TestDirIgnoresASecondSendOfTheSameMessage(t *testing.T) {
	d := mail.Dir{Path: t.TempDir()}
	m := confirmation()
	if err := d.Send(context.Background(), m); err != nil {
		t.Fatalf("first Send: %v", err)
	}
	path := filepath.Join(d.Path, list(t, d)[0])
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read: %v", err)
	}

	// A retry rebuilds the message; even if its bytes differ, the file
	// written first stays.
	m.Date = m.Date.Add(time.Hour)
	m.Text = "rewritten"
	if err := d.Send(context.Background(), m); err != nil {
		t.Fatalf("second Send: %v", err)
	}

	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if !bytes.Equal(before, after) {
		t.Fatalf("second Send rewrote the file")
	}
	if n := len(list(t, d)); n != 1 {
		t.Fatalf("List has %d files, want 1", n)
	}
}

func TestDirConcurrentSendsOfOneMessageLeaveOneFile(t *testing.T) {
	d := mail.Dir{Path: t.TempDir()}
	const senders = 16

	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for i := range senders {
		wg.Go(func() {
			m := confirmation()
			m.Date = m.Date.Add(time.Duration(i) * time.Second)
			errs <- d.Send(context.Background(), m)
		})
	}
	wg.Wait()
	close(errs)

	for err := range errs {
		if err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	entries, err := os.ReadDir(d.Path)
	if err != nil {
		t.Fatalf("read dir: %v", err)
	}
	if len(entries) != 1 {
		t.Fatalf("directory holds %d entries, want 1 (no temporary files left)", len(entries))
	}
}

func TestDirNamesFilesOneToOne(t *testing.T) {
	d := mail.Dir{Path: t.TempDir()}
	ids := []string{"a/b@x", "a%2Fb@x", "a_b@x"}
	for _, id := range ids {
		m := confirmation()
		m.ID = id
		if err := d.Send(context.Background(), m); err != nil {
			t.Fatalf("Send %s: %v", id, err)
		}
	}

	if names := list(t, d); len(names) != len(ids) {
		t.Fatalf("List = %q, want %d files", names, len(ids))
	}
}

func TestDirRefusesAnInvalidMessage(t *testing.T) {
	d := mail.Dir{Path: t.TempDir()}
	m := confirmation()
	m.Subject = "hi\r\nBcc: victim@example.com"

	err := d.Send(context.Background(), m)

	if !errors.Is(err, mail.ErrInvalidMessage) || !mail.IsPermanent(err) {
		t.Fatalf("Send = %v, want permanent ErrInvalidMessage", err)
	}
	if n := len(list(t, d)); n != 0 {
		t.Fatalf("List has %d files, want none", n)
	}
}

func TestDirListOfAMissingDirectoryIsEmpty(t *testing.T) {
	d := mail.Dir{Path: filepath.Join(t.TempDir(), "never-created")}
	if names := list(t, d); len(names) != 0 {
		t.Fatalf("List = %q, want none", names)
	}
}

func list(t *testing.T, d mail.Dir) []string {
	t.Helper()
	names, err := d.List()
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return names
}
