package ctl

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/tbschedule/tbschedule-go/cmd/tbsctl/internal/console"
)

// EnvConsoleUsers holds the console's accounts when -users is not given:
// "name:role:bcrypt-hash" entries separated by commas or newlines.
const EnvConsoleUsers = "TBSCTL_CONSOLE_USERS"

func consoleCmd() command {
	return command{
		name:    "console",
		args:    "",
		serves:  true,
		summary: "serve the web console: live status, forms, pause/resume, stop/start/drain, export/import",
		help: `
Serves the web console for the root on -addr (loopback by default) until
interrupted. Every page shows the output of tbsctl's own commands (status,
doctor, factories, strategies, tree) and every change runs them (apply's
validation and diff, delete's refusal rules, import's report), each
command bounded by -timeout.

Accounts: -users FILE, else the environment variable ` + EnvConsoleUsers + `,
hold "name:role:bcrypt-hash" entries (role viewer or operator; one per
line or comma-separated; make a hash with -hash-password). With neither,
the console makes the operator "admin" with a one-time password and prints
it. Viewers read; operators also change. Every change is written to the
audit log (-audit FILE, default standard error), one JSON line: who, what,
the object before and after, and the outcome. See docs/CONSOLE.md.`,
		example: `  tbsctl console -addr 127.0.0.1:7070
  echo -n 's3cret-pass' | tbsctl console -hash-password   # prints a bcrypt hash
  printf 'ops:operator:%s\n' "$HASH" > users; tbsctl console -users users -audit console-audit.log`,
		setup: func(fs *flag.FlagSet) func(context.Context, *cli, []string) error {
			addr := fs.String("addr", "127.0.0.1:7070", "listen address host:port (plain HTTP: keep it on loopback or behind a TLS proxy)")
			users := fs.String("users", "", "file of accounts, name:role:bcrypt-hash per line (default: env "+EnvConsoleUsers+")")
			audit := fs.String("audit", "", "append the audit log to this file (default: standard error)")
			poll := fs.Duration("poll", 2*time.Second, "how often the pages refresh")
			hash := fs.Bool("hash-password", false, "read a password from standard input, print its bcrypt hash, and exit")
			return func(ctx context.Context, c *cli, args []string) error {
				if err := needArgs("console", args, 0, 0, "no arguments"); err != nil {
					return err
				}
				if *hash {
					return c.hashPassword()
				}
				return c.serveConsole(ctx, *addr, *users, *audit, *poll)
			}
		},
	}
}

func (c *cli) hashPassword() error {
	line, err := bufio.NewReader(c.io.In).ReadString('\n')
	if err != nil && err != io.EOF {
		return err
	}
	h, err := console.HashPassword(strings.TrimRight(line, "\r\n"))
	if err != nil {
		return err
	}
	c.out("%s\n", h)
	return nil
}

func (c *cli) consoleUsers(file string) ([]console.User, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("console: -users: %w", err)
		}
		return console.ParseUsers(file, string(b))
	}
	return console.ParseUsers(EnvConsoleUsers, c.io.Getenv(EnvConsoleUsers))
}

func (c *cli) serveConsole(ctx context.Context, addr, usersFile, auditFile string, poll time.Duration) error {
	if _, err := c.config(); err != nil {
		return err
	}
	users, err := c.consoleUsers(usersFile)
	if err != nil {
		return err
	}
	var audit io.Writer = c.io.Err
	if auditFile != "" {
		f, err := os.OpenFile(auditFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			return fmt.Errorf("console: -audit: %w", err)
		}
		defer f.Close()
		audit = f
	}
	b := newConsoleBackend(c.g, c.io.Getenv)
	defer b.close()
	// Fail now, not in the first page, on a wrong address or credentials.
	if _, err := b.reader.readStore(ctx); err != nil {
		return err
	}
	return console.Run(ctx, console.Config{Addr: addr, Root: c.g.root, Users: users, Backend: b,
		Out: c.io.Out, Audit: audit, Log: c.log, Poll: poll})
}
