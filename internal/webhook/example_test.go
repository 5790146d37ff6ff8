package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/writepath/writepath/internal/webhook"
)

func ExampleSign() {
	ts := time.Unix(1614265330, 0)
	sig, err := webhook.Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		"msg_p5jXN8AQM9LWM0D4loKWxJek", ts, []byte(`{"test": 2432232314}`))
	if err != nil {
		panic(err)
	}
	fmt.Println(sig)
	// Output: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
}

func ExampleGuard_CheckURL() {
	var g webhook.Guard // refuses private addresses
	for _, raw := range []string{
		"https://93.184.215.14/hooks",
		"http://169.254.169.254/latest/meta-data/",
		"ftp://93.184.215.14/",
	} {
		err := g.CheckURL(context.Background(), raw)
		switch {
		case err == nil:
			fmt.Println("ok")
		case errors.Is(err, webhook.ErrPrivateAddress), errors.Is(err, webhook.ErrInvalidURL):
			fmt.Println("400:", err)
		}
	}
	// Output:
	// ok
	// 400: webhook address is private: 169.254.169.254 is a link-local address
	// 400: invalid webhook url: scheme must be http or https
}

func ExampleSender_Send() {
	s := webhook.NewSender(webhook.Guard{})
	_, err := s.Send(context.Background(), webhook.Delivery{
		URL:       "http://127.0.0.1:9/hooks",
		Secret:    webhook.NewSecret(),
		MessageID: "msg_2xKqR8w1", // the same on every retry of this message
		Body:      []byte(`{"type":"order.completed"}`),
	})
	switch {
	case err == nil:
		fmt.Println("delivered")
	case errors.Is(err, webhook.ErrGone):
		fmt.Println("receiver is gone: disable the endpoint")
	case webhook.IsRetryable(err):
		fmt.Println("retry later; breaker counts it:", webhook.IsDependencyFailure(err))
	default:
		fmt.Println("not retryable:", errors.Is(err, webhook.ErrPrivateAddress))
	}
	// Output: not retryable: true
}
