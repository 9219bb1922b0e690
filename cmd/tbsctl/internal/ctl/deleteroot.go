package ctl

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/tbschedule/tbschedule-go/strategy"
)

func deleteRootCmd() command {
	return command{
		name:    "delete-root",
		args:    "ROOT",
		summary: "delete a whole tree: every task type, strategy and runtime under the root",
		help: `
ROOT repeats the root (-root or TBSCTL_ROOT, or gives it), as a
confirmation. The root must hold a tbschedule-go tree (a missing root, or a
TBSchedule (Java) or foreign one, is refused). While anything is live (a
factory, a strategy registration, a server) the delete is refused unless
--force: then every strategy is paused, and the registrations and servers
are waited for (at most --wait) as "delete strategy --force" does; the tree
is deleted after that. Factory processes still running keep failing to
register until they are stopped.`,
		example: `  tbsctl -root /orders-staging delete-root /orders-staging
  tbsctl delete-root /orders-test --force --wait 1m`,
		setup: func(fs *flag.FlagSet) func(context.Context, *cli, []string) error {
			force := fs.Bool("force", false, "delete even if in use (every strategy is paused and its registrations and servers waited for first)")
			wait := fs.Duration("wait", strategy.DefaultForceWait, "with --force: how long to wait for registrations and servers to go")
			return func(ctx context.Context, c *cli, args []string) error {
				if err := needArgs("delete-root", args, 1, 1, "the root to delete"); err != nil {
					return err
				}
				if c.g.root == "" {
					c.g.root = args[0]
				}
				if args[0] != c.g.root {
					return usagef("delete-root: %q is not the root %q (-root or %s): give the same path twice", args[0], c.g.root, EnvRoot)
				}
				return c.deleteRoot(ctx, *force, *wait)
			}
		},
	}
}

// deleteRoot checks the root is ours and idle (or stops it with force),
// then deletes it.
func (c *cli) deleteRoot(ctx context.Context, force bool, wait time.Duration) error {
	root := c.g.root
	// The read-only open refuses a missing root and a root not ours.
	admin, _, err := c.readAdmin(ctx)
	if err != nil {
		return fmt.Errorf("delete-root %s: %w", root, err)
	}
	v, err := admin.Runtime(ctx)
	if err != nil {
		return fmt.Errorf("delete-root %s: %w", root, err)
	}
	if live := liveParts(v, true); len(live) > 0 {
		if !force {
			return fmt.Errorf("delete-root %s: refused: live %s; stop them first, or --force", root, strings.Join(live, ", "))
		}
		if err := c.quiesceRoot(ctx, v, wait); err != nil {
			return err
		}
	}
	conn, err := c.rawConn(ctx)
	if err != nil {
		return err
	}
	// The store's own throw-away clock nodes must not race the delete.
	_ = c.store.Close()
	c.store = nil
	n, err := deleteTree(ctx, conn, root)
	if err != nil {
		return fmt.Errorf("delete-root %s: %w", root, err)
	}
	c.out("root %s: deleted (%d nodes)\n", root, n)
	return nil
}

// liveParts says what is live in v: registrations and servers, and the
// factories too unless withFactories is false. Empty: nothing is live.
func liveParts(v strategy.RuntimeView, withFactories bool) []string {
	var regs, servers int
	for _, s := range v.Strategies {
		regs += len(s.Registrations)
	}
	for _, tt := range v.TaskTypes {
		for _, rt := range tt.Runtimes {
			servers += len(rt.Servers)
		}
	}
	var out []string
	if withFactories && len(v.Factories) > 0 {
		out = append(out, fmt.Sprintf("%d factory(ies)", len(v.Factories)))
	}
	if regs > 0 {
		out = append(out, fmt.Sprintf("%d strategy registration(s)", regs))
	}
	if servers > 0 {
		out = append(out, fmt.Sprintf("%d server(s)", servers))
	}
	return out
}

// quiesceRoot pauses every strategy, then waits (at most wait) until no
// registration and no server is left. It reports what it saw; what is
// still there after the wait does not stop the delete.
func (c *cli) quiesceRoot(ctx context.Context, v strategy.RuntimeView, wait time.Duration) error {
	root := c.g.root
	admin, _, err := c.adminAPI(ctx)
	if err != nil {
		return err
	}
	for _, s := range v.Strategies {
		if _, err := admin.PauseStrategy(ctx, s.StrategyName); err != nil {
			return fmt.Errorf("delete-root %s: pause strategy %s: %w", root, s.StrategyName, err)
		}
	}
	c.out("root %s: %d strateg(ies) paused; waiting for %s to stop\n", root, len(v.Strategies), strings.Join(liveParts(v, false), ", "))
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		cur, err := admin.Runtime(wctx)
		if err != nil && wctx.Err() == nil {
			return fmt.Errorf("delete-root %s: %w", root, err)
		}
		left := liveParts(cur, false)
		if err == nil && len(left) == 0 {
			c.out("root %s: every registration and server stopped in %v\n", root, time.Since(start).Round(time.Millisecond))
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wctx.Done():
			c.out("root %s: %s still there after %v; deleting anyway\n", root, strings.Join(left, ", "), wait)
			return nil
		case <-tick.C:
		}
	}
}

// deleteTree deletes root and everything under it, children first, and
// returns the number of nodes deleted. A node created meanwhile (a factory
// registering) makes its parent's delete fail with "not empty": the walk
// then lists that parent again, a few times at most.
func deleteTree(ctx context.Context, conn *zk.Conn, root string) (int, error) {
	n := 0
	var del func(p string) error
	del = func(p string) error {
		for attempt := 0; ; attempt++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			children, _, err := conn.Children(p)
			if errors.Is(err, zk.ErrNoNode) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("children of %s: %w", p, err)
			}
			sort.Strings(children)
			for _, ch := range children {
				if err := del(p + "/" + ch); err != nil {
					return err
				}
			}
			err = conn.Delete(p, -1)
			switch {
			case err == nil:
				n++
				return nil
			case errors.Is(err, zk.ErrNoNode):
				return nil
			case errors.Is(err, zk.ErrNotEmpty) && attempt < 5:
				continue
			default:
				return fmt.Errorf("delete %s: %w", p, err)
			}
		}
	}
	return n, del(root)
}
