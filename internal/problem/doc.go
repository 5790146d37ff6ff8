// Package problem writes the errors of the writepath API as RFC 9457 problem
// details and serves a short page for each kind of problem.
//
// Every problem has a name, such as [IdempotencyKeyInUse], listed once in the
// package's catalogue with its HTTP status, its title and two sentences for
// API users: what it means and what to do. The name is part of the API
// contract: a problem's type is the relative URI /problems/<name>, and
// [Pages] serves a page at that address, so a developer who meets a problem
// can paste its type into a browser and read how to fix it.
//
// Handlers build problems with [New] and send them with [Write]:
//
//	p := problem.New(problem.IdempotencyKeyInUse, "The first request is still running.")
//	p.RetryAfter = 2 * time.Second
//	problem.Write(w, p)
package problem
