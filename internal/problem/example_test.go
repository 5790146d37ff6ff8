package problem_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/writepath/writepath/internal/problem"
)

func ExampleWrite() {
	p := problem.New(problem.IdempotencyKeyInUse, "The first request with this key is running.")
	p.RetryAfter = 1500 * time.Millisecond

	rec := httptest.NewRecorder()
	problem.Write(rec, p)

	var body bytes.Buffer
	json.Indent(&body, rec.Body.Bytes(), "", "  ")
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"), rec.Header().Get("Retry-After"))
	fmt.Print(body.String())
	// Output:
	// 409 application/problem+json 2
	// {
	//   "type": "/problems/idempotency-key-in-use",
	//   "title": "Idempotency key in use",
	//   "status": 409,
	//   "detail": "The first request with this key is running."
	// }
}
