// Package webhook signs and delivers the outbound webhooks that tenants
// register, following the Standard Webhooks scheme, and keeps tenant-chosen
// URLs from reaching the service's own network.
//
// # Signing
//
// Each endpoint has a secret made by NewSecret ("whsec_" and the base64 of 24
// random bytes). A delivery carries three headers: webhook-id, the message's
// id, which stays the same for every retry of one message so that receivers
// can drop duplicates; webhook-timestamp, the Unix seconds of this attempt;
// and webhook-signature, "v1," and the base64 HMAC-SHA256 of
// "id.timestamp.body" keyed with the secret's decoded bytes. Sign and Headers
// produce them; Verify checks them as a receiver does, and the tests check
// them again with the reference npm package (see testdata/verifier).
//
// # Private addresses
//
// A webhook URL is input from a tenant, and the service sends requests to it
// from inside its network. Guard refuses URLs whose host is, or resolves to,
// a loopback, private, link-local, unspecified, multicast, shared (CGNAT) or
// otherwise reserved address, including IPv4-mapped and NAT64 forms of them:
//
//   - Guard.CheckURL at registration, to answer 400 with a reason;
//   - Guard.Transport at every delivery, in the dialer, on the address
//     actually connected. A name that resolved to a public address at
//     registration and to 127.0.0.1 later (DNS rebinding) is refused there.
//
// Guard.AllowPrivate turns both off, for local setups and tests.
//
// # Sending
//
// Sender.Send makes one attempt and never retries: the queue owns retries. It
// does not follow redirects and reads only the first bytes of the answer.
// Its error says what the caller should do:
//
//   - nil: a 2xx answer; the message is delivered.
//   - *StatusError: any other answer. Every status is retryable except
//     410 Gone, which matches ErrGone and means the receiver wants no more
//     messages: disable the endpoint. Standard Webhooks treats every other
//     answer as a failure to retry on the schedule, and a receiver's 4xx is
//     usually a deploy or a misconfiguration that its owner fixes within the
//     days the schedule spans; dropping the message on the first 400, 401
//     or 404 would lose events that a later attempt delivers.
//   - ErrPrivateAddress: the guard refused to connect. Not retryable until
//     the endpoint's URL or the service's configuration changes.
//   - ErrInvalidURL, ErrSecret, ErrMessageID: the delivery itself is wrong;
//     nothing was sent, and retrying it unchanged fails again.
//   - any other error: no answer (timeout, refused or reset connection, DNS
//     or TLS failure). Retryable; the receiver may have got the message.
//
// IsRetryable sums this up, and IsDependencyFailure says what a circuit
// breaker per destination should count: timeouts, connection errors and
// 5xx, but not 4xx (the receiver is up and answering), not the guard's
// refusals, and not the caller's own cancellation.
package webhook
