// Package console is the web console of tbsctl ("tbsctl console"): an HTTP
// server with a login, two roles, and pages that show and change one root
// of a tbschedule-go tree.
//
// It does nothing with ZooKeeper itself: every read and every change goes
// through a Backend that runs tbsctl's own commands (status, doctor,
// factories, strategies, tree and get to show; apply, pause, resume, stop,
// start, drain, delete and import to change), so the console validates,
// diffs and refuses exactly as the command line does, and a command's
// refusal reaches the page as a refusal (HTTP 422 with its message).
//
// Security: a session (random id in an HttpOnly, SameSite=Strict cookie)
// is needed for everything but the login page and the static files; login
// failures are limited per address; a change is a POST with a JSON body,
// the session's CSRF token in the X-CSRF-Token header, from the console's
// own origin, by an operator; every response carries a CSP without inline
// code and the other security headers; every change is one JSON line of
// the audit log (who, what, before, after, outcome). The pages (assets/)
// are plain HTML, CSS and JavaScript, embedded, building the DOM with
// textContent only, and poll JSON views for live updates. docs/CONSOLE.md
// is the operator's guide and docs/SECURITY-CHECKLIST.md lists every check
// with its test.
package console
