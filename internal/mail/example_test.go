package mail_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/writepath/writepath/internal/mail"
)

func ExampleDir() {
	path, err := os.MkdirTemp("", "outbox")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(path)
	outbox := mail.Dir{Path: path}

	m := mail.Message{
		ID:      "ord_123.confirmation@writepath.invalid",
		From:    "Writepath <shop@writepath.invalid>",
		To:      "zoe@example.com",
		Subject: "Your order is confirmed",
		Text:    "Thank you for your order.\n",
	}
	// The job runs at least once; the message is written once.
	for range 2 {
		if err := outbox.Send(context.Background(), m); err != nil {
			panic(err)
		}
	}

	names, err := outbox.List()
	if err != nil {
		panic(err)
	}
	fmt.Println(names)
	// Output: [ord_123.confirmation@writepath.invalid.eml]
}

func ExampleIsPermanent() {
	sender := &mail.SMTP{Addr: "127.0.0.1:2525", Timeout: 10 * time.Second}
	m := mail.Message{
		ID:   "ord_123.confirmation@writepath.invalid",
		From: "shop@writepath.invalid",
		To:   "zoe@example.com\r\nBcc: everyone@example.com",
	}

	err := sender.Send(context.Background(), m)
	switch {
	case err == nil:
		fmt.Println("sent")
	case mail.IsPermanent(err):
		fmt.Println("give up:", errors.Is(err, mail.ErrInvalidMessage))
	default:
		fmt.Println("retry later")
	}
	// Output: give up: true
}
