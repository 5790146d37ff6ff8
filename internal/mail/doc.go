// Package mail sends the confirmation email of an order.
//
// A background job sends it, and jobs run at least once, so the package is
// built for retries whose effect happens once:
//
//   - Every Message carries a stable Message-ID that the caller derives from
//     the order. It is the email's idempotency key: Dir refuses a second file
//     for the same ID, and mail systems and readers can drop a duplicate.
//   - Errors say whether to retry. IsPermanent reports true for an invalid
//     message (ErrInvalidMessage) and for a 5xx answer from the server
//     (*SMTPError with Permanent set): retrying them fails again. A 4xx
//     answer, a network failure, a timeout or a cancelled context is
//     temporary: the job retries with the same Message-ID.
//
// One case stays ambiguous, and SMTP offers no way around it: when the
// answer to the end of the message data is lost, the server may have
// accepted the message. Send reports a temporary error and the retry may
// deliver a second copy, which carries the same Message-ID.
//
// Two Senders exist: SMTP talks to a mail server, and Dir writes .eml files
// into a local directory so that a demo needs no mail server at all.
package mail
