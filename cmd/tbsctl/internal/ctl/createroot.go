package ctl

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/tbschedule/tbschedule-go/schedule"
)

func createRootCmd() command {
	return command{
		name:    "create-root",
		args:    "ROOT",
		summary: "create an empty tree, so that dry runs and reads can look at it",
		help: `
ROOT repeats the root (-root or TBSCTL_ROOT, or gives it), as a
confirmation. The commands that only read (and every --dry-run) refuse a
missing root rather than create it, so that a mistyped root is noticed;
create-root makes a new, empty one on purpose, for example before
"import --dry-run" of a migration. A root that exists already is left as it
is (and said so); a TBSchedule (Java) or foreign root is refused.`,
		example: `  tbsctl -root /orders-go create-root /orders-go`,
		setup: func(fs *flag.FlagSet) func(context.Context, *cli, []string) error {
			return func(ctx context.Context, c *cli, args []string) error {
				if err := needArgs("create-root", args, 1, 1, "the root to create"); err != nil {
					return err
				}
				if c.g.root == "" {
					c.g.root = args[0]
				}
				if args[0] != c.g.root {
					return usagef("create-root: %q is not the root %q (-root or %s): give the same path twice", args[0], c.g.root, EnvRoot)
				}
				return c.createRoot(ctx)
			}
		},
	}
}

// createRoot opens the store read-only to see whether the root exists, and
// read-write (which creates it) when it does not.
func (c *cli) createRoot(ctx context.Context) error {
	root := c.g.root
	_, _, err := c.readAdmin(ctx)
	switch {
	case err == nil:
		c.out("root %s: exists already; nothing was changed\n", root)
		return nil
	case !errors.Is(err, schedule.ErrNotFound):
		return fmt.Errorf("create-root %s: %w", root, err)
	}
	if _, _, err := c.adminAPI(ctx); err != nil {
		return fmt.Errorf("create-root %s: %w", root, err)
	}
	c.out("root %s: created\n", root)
	return nil
}
