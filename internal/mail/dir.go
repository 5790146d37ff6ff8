package mail

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// fileExt ends the name of every message file in a Dir; temporary files
// start with a dot and do not end with it.
const fileExt = ".eml"

// maxFileName is the longest file name common file systems accept.
const maxFileName = 255

// Dir is a Sender that writes each message to a file in a local directory,
// for demos that need no mail server. Operators read the files with any
// mail client that opens .eml files.
type Dir struct {
	// Path is the directory. Send creates it, mode 0700, if it is missing.
	Path string
}

// Send writes m to a file named after its Message-ID. If that file exists,
// the message was delivered already and Send does nothing, so the effect
// happens once however often, and however concurrently, it is called.
//
// The file appears whole or not at all: Send writes a temporary file in
// Path, syncs it, then links it into place.
func (d Dir) Send(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("dir send: %w", err)
	}
	msg, err := m.Bytes()
	if err != nil {
		return fmt.Errorf("dir send: %w", err)
	}
	name := fileName(m.ID)
	if len(name) > maxFileName {
		return fmt.Errorf("dir send: %w: id too long for a file name", ErrInvalidMessage)
	}
	final := filepath.Join(d.Path, name)
	if _, err := os.Lstat(final); err == nil {
		return nil // a duplicate: leave the first file alone
	}

	if err := os.MkdirAll(d.Path, 0o700); err != nil {
		return fmt.Errorf("dir send: %w", err)
	}
	if err := publish(d.Path, final, msg); err != nil {
		return fmt.Errorf("dir send: %w", err)
	}
	return nil
}

// List returns the names of the message files in Path, sorted. A missing
// directory holds no messages.
func (d Dir) List() ([]string, error) {
	entries, err := os.ReadDir(d.Path) // sorted by name
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dir list: %w", err)
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if e.Type().IsRegular() && strings.HasSuffix(n, fileExt) && !strings.HasPrefix(n, ".") {
			names = append(names, n)
		}
	}
	return names, nil
}

// publish writes msg to a temporary file in dir and links it to final.
//
// It links rather than renames because a rename replaces the target: two
// concurrent Sends of one message would both succeed and the second would
// rewrite the first's file. A link fails if the target exists, so exactly
// one wins and the others find a duplicate.
func publish(dir, final string, msg []byte) error {
	tmp, err := writeTemp(dir, msg)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)

	err = os.Link(tmp, final)
	if errors.Is(err, fs.ErrExist) {
		// Another Send won; make sure its entry is durable before saying
		// the message is sent.
		return syncDir(dir)
	}
	if err != nil {
		return err
	}
	return syncDir(dir)
}

// writeTemp writes msg to a new file in dir, synced to disk, and returns
// its path.
func writeTemp(dir string, msg []byte) (string, error) {
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return "", err
	}
	_, err = f.Write(msg)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// syncDir makes the new directory entry durable, so that a message reported
// sent survives a crash.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// fileName maps a Message-ID to a file name one to one: letters, digits and
// ".@_+-=" stay, and every other byte becomes %XX, so that no two IDs share
// a file and no name holds a path separator or a shell metacharacter. On a
// case-insensitive file system, IDs that differ only in case still share a
// file, so callers should not make IDs that differ only in case.
func fileName(id string) string {
	var b strings.Builder
	for i := 0; i < len(id); i++ {
		c := id[i]
		if isPlainFileByte(c) {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String() + fileExt
}

func isPlainFileByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte(".@_+-=", c) >= 0
}
