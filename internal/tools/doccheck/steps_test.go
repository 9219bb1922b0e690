package doccheck

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// walkthroughHeading opens the README section whose commands the test runs.
const walkthroughHeading = "## Run it on ZooKeeper"

// Kinds of step in the walk-through, in the order the README gives them.
const (
	stepStart   = "start ZooKeeper"
	stepService = "run the service"
	stepStatus  = "tbsctl status"
	stepStop    = "stop ZooKeeper"
)

var wantKinds = []string{stepStart, stepService, stepService, stepStatus, stepStop}

// step is one command of the walk-through, split into words as written.
type step struct {
	kind string
	args []string
}

// readmeSteps returns the commands of the ```sh blocks of the README's
// walk-through section, in order. They must be plain words (no shell
// syntax) and of the kinds in wantKinds, in that order, so that the test
// runs exactly what a reader types.
func readmeSteps(readme string) ([]step, error) {
	_, sec, ok := strings.Cut("\n"+readme, "\n"+walkthroughHeading+"\n")
	if !ok {
		return nil, fmt.Errorf("README has no %q section", walkthroughHeading)
	}
	if i := strings.Index(sec, "\n## "); i >= 0 {
		sec = sec[:i]
	}
	var steps []step
	inSh := false
	for line := range strings.Lines(sec) {
		line = strings.TrimSpace(line)
		switch {
		case line == "```sh":
			inSh = true
		case strings.HasPrefix(line, "```"):
			inSh = false
		case inSh && line != "" && !strings.HasPrefix(line, "#"):
			s, err := parseStep(line)
			if err != nil {
				return nil, err
			}
			steps = append(steps, s)
		}
	}
	kinds := make([]string, len(steps))
	for i, s := range steps {
		kinds[i] = s.kind
	}
	if !slices.Equal(kinds, wantKinds) {
		return nil, fmt.Errorf("README %q: steps %q, want %q", walkthroughHeading, kinds, wantKinds)
	}
	return steps, nil
}

func parseStep(line string) (step, error) {
	if i := strings.IndexAny(line, "$|&;<>()'\"`*\\"); i >= 0 {
		return step{}, fmt.Errorf("README step %q: %q is shell syntax, which the test does not run", line, line[i:i+1])
	}
	args := strings.Fields(line)
	prefixed := func(p ...string) bool { return len(args) >= len(p) && slices.Equal(args[:len(p)], p) }
	s := step{args: args}
	switch {
	case prefixed("scripts/zookeeper", "start"):
		s.kind = stepStart
	case prefixed("scripts/zookeeper", "stop"):
		s.kind = stepStop
	case prefixed("go", "run", "./examples/service"):
		s.kind = stepService
	case prefixed("go", "run", "./cmd/tbsctl") && slices.Contains(args, "status"):
		s.kind = stepStatus
	default:
		return step{}, fmt.Errorf("README step %q is none of %q", line, []string{stepStart, stepService, stepStatus, stepStop})
	}
	return s, nil
}

// loopbackAddr matches the address the README shows in its commands.
var loopbackAddr = regexp.MustCompile(`127\.0\.0\.1:[0-9]+`)

// localize returns args with the README's folder replaced by dir and its
// ZooKeeper address by addr, as a reader puts their own in.
func localize(args []string, folder, dir, addr string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == folder {
			a = dir
		}
		out[i] = loopbackAddr.ReplaceAllLiteralString(a, addr)
	}
	return out
}
