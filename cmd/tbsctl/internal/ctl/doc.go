// Package ctl is the whole of the tbsctl command, callable in-process:
// Main parses the command line, connects to ZooKeeper through zkstore (and,
// for tree and doctor's schema check, through a plain read-only use of the
// ZooKeeper client), and works through strategy.Admin, so the CLI edits
// the configuration exactly as the Go admin API does (validated, compare-
// and-set, retried on a lost race).
//
// # Commands
//
//	tree [path]            the tree under the root, values decoded ([E]: ephemeral)
//	status [taskType]      servers (host#seq) and items per runtime, holds,
//	                       next window start; -o wide, -o json (full ids)
//	factories, strategies  registrations, requestNum/currentNum, messages, stop flags
//	apply -f FILE          YAML or JSON; validated; CAS; prints what changed; --dry-run
//	get KIND NAME          one task type or strategy, ready to edit and apply
//	delete KIND NAME       --force stops a strategy's registrations first
//	pause/resume STRATEGY
//	stop/start/drain FACTORY
//	export, import         ours, and the Java console's one-record-per-line format
//	doctor                 problems with a fix each; exit code 1 if one needs a person
//	create-root ROOT       an empty tree, made on purpose (reads and dry runs refuse a missing root)
//	delete-root ROOT       the whole tree; refused while anything is live unless --force
//	console                the web console (package console) on -addr; its pages and
//	                       changes run these commands in-process (console_backend.go)
//
// # Files
//
// apply, import and export share one document: {"taskTypes": [...],
// "strategies": [...]} (export adds "exportedFrom"), in JSON or YAML, with
// TBSchedule's field names (durations in milliseconds, expireOwnSignInterval
// in days). apply also takes one object, a list, or several YAML
// documents. A document without "sts" keeps the stored sts. The Java
// console's export, {"rootPath","configType","name","value"} per line (the
// value being the record's JSON as a string), and the later console's
// TASK{...}/STRATEGY{...} lines are detected and read by import; the
// rootPath in the lines is ignored, the target is -root.
//
// import reads the file as UTF-8 (with or without a byte order mark) or
// GBK (the Java console's charset), detected strictly: a line that is
// neither is refused, never decoded into U+FFFD (--encoding overrides).
// import --from-java-root reads the task types and strategies of a live
// TBSchedule root instead, through a connection it only reads with. The
// records written by TBSchedule are then mapped to what they did there
// (javaSemantics: an empty IPList ran nowhere, kind Java, assignNum 0, the
// crons' zone), each mapping printed under its object. Each object is
// reported (created, updated, unchanged, or skipped with its reasons);
// nothing is written when one is skipped unless --partial, and the exit
// code is 1 when one is. docs/MIGRATING.md is the guide.
//
// apply and import are strict: a key that is not a field of its record
// (unknown, or a known name in another case, such as "ipList" for "IPList")
// is an error naming it, its line (and column) and the nearest known
// name. The library reads stored nodes leniently, since another version
// may add fields; doctor reports the fields it does not know, a mis-cased
// one as a problem, any other as a warning.
//
// # Names
//
// status names a server host#seq: the host name it published (its IP when
// unknown) and the sequence number of its node, unique within its runtime
// (the start of the id's uuid is added if two still collide); its process
// (factory) is host#f<seq>. The full ids are in -o wide and -o json.
// Session ids are shown as 0x... everywhere.
//
// # Guarantees
//
//   - apply writes nothing when anything in a file is invalid; import
//     writes nothing when an object is skipped, unless --partial. Every
//     problem is reported, named by file, document or line (or node), and
//     field, and counted once.
//   - Credentials come only from TBSCTL_AUTH and are never printed.
//   - Exit codes: 0 success (doctor: nothing needs a person), 1 failure
//     (doctor: a problem that needs a person), 2 usage. doctor's findings
//     are PROBLEM, HOLD (items held for a vanished server's lock delay, with
//     the time the hold ends; a problem only once overdue by one
//     heartBeatRate) or WARNING; only PROBLEMs make it exit 1.
//   - The commands that only read (tree, status, factories, strategies,
//     get, export, doctor, and apply and import with --dry-run) write
//     nothing: they open the store read-only, and a missing root is an
//     error naming it, never created. The commands that write open the
//     store as every client of the library does (creating a missing root)
//     and fail at once if ZooKeeper refuses the credentials of TBSCTL_AUTH;
//     every refusal by the ACL names TBSCTL_AUTH (its user, never the
//     password).
//   - A wrong -zk fails at once when every address refuses the connection,
//     naming each address's error.
//
// # Example
//
//	code := ctl.Main(ctx, []string{"status", "-o", "json"}, ctl.IO{
//		In: os.Stdin, Out: os.Stdout, Err: os.Stderr, Getenv: os.Getenv})
package ctl
