package problem

import "net/http"

// The names of every problem the API answers with. They are part of the API
// contract (the type of a problem is /problems/<name>): never rename one.
const (
	// IdempotencyKeyMissing is a write request sent without an Idempotency-Key.
	IdempotencyKeyMissing = "idempotency-key-missing"
	// IdempotencyKeyInvalid is an Idempotency-Key that is empty, too long,
	// not printable ASCII, a list, or repeated.
	IdempotencyKeyInvalid = "idempotency-key-invalid"
	// InvalidRequest is a body that is malformed or fails validation.
	InvalidRequest = "invalid-request"
	// Unauthorized is a missing or unknown API key.
	Unauthorized = "unauthorized"
	// NotFound is a resource that does not exist for the caller's tenant.
	NotFound = "not-found"
	// MethodNotAllowed is a known path asked with a method it does not serve.
	MethodNotAllowed = "method-not-allowed"
	// IdempotencyKeyInUse is a key whose first request is still running.
	IdempotencyKeyInUse = "idempotency-key-in-use"
	// OrderNotPayable is a payment asked for an order that cannot take one now.
	OrderNotPayable = "order-not-payable"
	// DeliveryNotReplayable is a replay asked for a side effect that is
	// still queued, running or retrying.
	DeliveryNotReplayable = "delivery-not-replayable"
	// RequestTooLarge is a body over the size limit.
	RequestTooLarge = "request-too-large"
	// UnsupportedMediaType is a body that is not declared as JSON.
	UnsupportedMediaType = "unsupported-media-type"
	// IdempotencyKeyReused is a key first used with a different request.
	IdempotencyKeyReused = "idempotency-key-reused"
	// RateLimited is a caller over its rate limit.
	RateLimited = "rate-limited"
	// InternalError is a failure on the service's side.
	InternalError = "internal-error"
	// PaymentsUnavailable is a request refused because the payment provider
	// cannot be reached and the service is set to reject rather than queue.
	PaymentsUnavailable = "payments-unavailable"
	// Overloaded is a request refused by admission control.
	Overloaded = "overloaded"
)

// kind is one entry of the catalogue: everything the API says about a problem
// name, on the wire and on its page.
type kind struct {
	Name    string
	Status  int
	Title   string
	Meaning string // what happened, for the page
	Action  string // what the API user should do, for the page
}

// StatusText is the standard reason phrase of the kind's status, for pages.
func (k kind) StatusText() string { return http.StatusText(k.Status) }

// catalogue lists every problem once, in the order the index page shows them.
// Titles never vary between occurrences (RFC 9457): put the particulars of one
// occurrence in its detail.
var catalogue = []kind{
	{
		Name:   IdempotencyKeyMissing,
		Status: http.StatusBadRequest,
		Title:  "Idempotency key missing",
		Meaning: "This request creates or changes something, so it must carry an " +
			"Idempotency-Key header. Without one the service cannot tell a retry " +
			"from a new request, and a retried payment could be charged twice.",
		Action: "Generate a unique key for each operation (a random UUID works well), " +
			"send it in the Idempotency-Key header, and send the same key again " +
			"whenever you retry that operation.",
	},
	{
		Name:   IdempotencyKeyInvalid,
		Status: http.StatusBadRequest,
		Title:  "Idempotency key invalid",
		Meaning: "The Idempotency-Key header cannot be used: it is empty, longer than " +
			"255 characters, contains characters other than printable ASCII, holds " +
			"a list of values, or was sent more than once.",
		Action: "Send exactly one Idempotency-Key header of 1 to 255 printable ASCII " +
			"characters; a quoted value such as \"abc\" is accepted. Nothing was " +
			"recorded, so you can send the request again with a valid key.",
	},
	{
		Name:   InvalidRequest,
		Status: http.StatusBadRequest,
		Title:  "Invalid request",
		Meaning: "The request body was not accepted: the JSON is malformed, has a " +
			"field the API does not know, or a value is missing or out of range. " +
			"When the fault lies in particular fields, the errors member of the " +
			"response names each field and what is wrong with it.",
		Action: "Correct the request and send it again. Nothing was recorded, so you " +
			"can keep the same idempotency key.",
	},
	{
		Name:   Unauthorized,
		Status: http.StatusUnauthorized,
		Title:  "Unauthorized",
		Meaning: "The request carries no API key, or a key the service does not know. " +
			"Every /v1 request needs an Authorization header of the form " +
			"Bearer <api key>.",
		Action: "Check that the Authorization header is present and holds your " +
			"account's full, current API key. Nothing was recorded.",
	},
	{
		Name:   NotFound,
		Status: http.StatusNotFound,
		Title:  "Not found",
		Meaning: "Nothing exists at this address for your account. Resources that " +
			"belong to other accounts are reported the same way, so that their " +
			"existence is never revealed.",
		Action: "Check the identifier in the URL, and that you use the API key of " +
			"the account that created the resource.",
	},
	{
		Name:   MethodNotAllowed,
		Status: http.StatusMethodNotAllowed,
		Title:  "Method not allowed",
		Meaning: "The address exists but does not accept this HTTP method. The Allow " +
			"header of the response lists the methods it does accept.",
		Action: "Send the request with one of the methods named in the Allow header.",
	},
	{
		Name:   IdempotencyKeyInUse,
		Status: http.StatusConflict,
		Title:  "Idempotency key in use",
		Meaning: "An earlier request with this idempotency key is still being " +
			"processed. To make sure the operation runs only once, the service " +
			"does not start it a second time alongside the first.",
		Action: "Wait the number of seconds given in the Retry-After header, then " +
			"send the same request with the same key. You will receive the result " +
			"of the first request.",
	},
	{
		Name:   OrderNotPayable,
		Status: http.StatusConflict,
		Title:  "Order not payable",
		Meaning: "The order cannot take a payment in its current state. Only an order " +
			"whose payment was declined can be paid again, and only one payment " +
			"attempt per order can be in progress at a time.",
		Action: "Fetch the order to see its status. If a payment is in progress, wait " +
			"for its outcome; if the order is completed, it is already paid.",
	},
	{
		Name:   DeliveryNotReplayable,
		Status: http.StatusConflict,
		Title:  "Delivery not replayable",
		Meaning: "The delivery is still on its way: queued, running or waiting to retry. " +
			"Replaying it now could deliver it twice.",
		Action: "Wait until the delivery is done or dead, then replay it. Its status is " +
			"in the list of deliveries.",
	},
	{
		Name:   RequestTooLarge,
		Status: http.StatusRequestEntityTooLarge,
		Title:  "Request too large",
		Meaning: "The request body is larger than the service accepts (64 KiB unless " +
			"configured otherwise). Nothing was recorded.",
		Action: "Send a smaller body, for example an order with fewer items. You can " +
			"keep the same idempotency key.",
	},
	{
		Name:   UnsupportedMediaType,
		Status: http.StatusUnsupportedMediaType,
		Title:  "Unsupported media type",
		Meaning: "The request body is not declared as JSON. The API accepts request " +
			"bodies only as application/json.",
		Action: "Send the body as JSON with the header Content-Type: application/json. " +
			"Nothing was recorded, so you can keep the same idempotency key.",
	},
	{
		Name:   IdempotencyKeyReused,
		Status: http.StatusUnprocessableEntity,
		Title:  "Idempotency key reused",
		Meaning: "This idempotency key was already used for a different request: the " +
			"method, the path or the body differs from the first request sent with " +
			"it. A key stands for one operation, so the service will not apply it " +
			"to another.",
		Action: "If you are retrying, send exactly the same request as the first time. " +
			"If this is a new operation, use a new idempotency key for it.",
	},
	{
		Name:   RateLimited,
		Status: http.StatusTooManyRequests,
		Title:  "Too many requests",
		Meaning: "Your API key has sent more requests than its rate limit allows. " +
			"This request was not processed.",
		Action: "Wait the number of seconds given in the Retry-After header before " +
			"retrying, and spread your requests over time. Retrying with the same " +
			"idempotency key is safe.",
	},
	{
		Name:   InternalError,
		Status: http.StatusInternalServerError,
		Title:  "Internal error",
		Meaning: "Something went wrong on our side while handling the request. The " +
			"operation may or may not have taken effect.",
		Action: "Retry with the same idempotency key: if the first attempt took " +
			"effect you receive its result, otherwise the operation runs once. If " +
			"the error persists, contact support with the time of the request.",
	},
	{
		Name:   PaymentsUnavailable,
		Status: http.StatusServiceUnavailable,
		Title:  "Payments unavailable",
		Meaning: "Our payment provider cannot be reached right now, so the request " +
			"was turned away before anything was done. Nothing was recorded and " +
			"no one was charged.",
		Action: "Retry after the number of seconds given in the Retry-After header, " +
			"with the same idempotency key.",
	},
	{
		Name:   Overloaded,
		Status: http.StatusServiceUnavailable,
		Title:  "Service overloaded",
		Meaning: "The service has more work waiting than it can finish in good time, " +
			"so it turns new requests away rather than accept work it would " +
			"complete late. Nothing was recorded.",
		Action: "Retry after the number of seconds given in the Retry-After header, " +
			"with the same idempotency key. If you send many requests, add random " +
			"jitter so that your retries do not all arrive at once.",
	},
}

// byName indexes the catalogue by name.
var byName = indexCatalogue()

func indexCatalogue() map[string]kind {
	m := make(map[string]kind, len(catalogue))
	for _, k := range catalogue {
		m[k.Name] = k
	}
	return m
}
