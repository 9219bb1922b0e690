package ctl_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/cmd/tbsctl/internal/ctl"
)

// TestBinaryWithDigestAuth builds the real tbsctl and runs it as a child
// process with digest credentials from the environment: the tree it writes
// is protected, a wrong password is refused, and the passwords never show.
func TestBinaryWithDigestAuth(t *testing.T) {
	e := newEnv(t)
	bin := filepath.Join(t.TempDir(), "tbsctl")
	build := exec.Command("go", "build", "-o", bin, "github.com/tbschedule/tbschedule-go/cmd/tbsctl")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run(), "go build")

	const secret, wrong = "s3cret-pw-7781", "wrong-pw-5512"
	run := func(auth, stdin string, args ...string) result {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), ctl.EnvZK+"="+e.servers, ctl.EnvRoot+"="+e.root, ctl.EnvAuth+"="+auth)
		cmd.Stdin = strings.NewReader(stdin)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else {
			require.NoError(t, err)
		}
		r := result{code: code, out: out.String(), err: errb.String()}
		assert.NotContains(t, r.out+r.err, secret, "%q", args)
		assert.NotContains(t, r.out+r.err, wrong, "%q", args)
		return r
	}

	r := run("ops:"+secret, runtimeYAML, "apply", "-f", "-")
	require.Equal(t, 0, r.code, "%s", r)
	assert.Contains(t, r.out, "2 created")
	r = run("ops:"+secret, "", "get", "strategy", "orders-base")
	require.Equal(t, 0, r.code, "%s", r)
	assert.Contains(t, r.out, `"strategyName": "orders-base"`)

	// Anyone may read (world:anyone READ), only the owner may write.
	r = run("ops:"+wrong, "", "pause", "orders-base")
	assert.Equal(t, ctl.ExitFailed, r.code, "%s", r)
	assert.Contains(t, r.err, "permission denied")
	r = run("ops:"+wrong, "", "-o", "json", "status")
	assert.Equal(t, ctl.ExitUsage, r.code, "flags of a command come after it: %s", r)
	r = run("ops:"+wrong, "", "status", "-o", "json")
	assert.Equal(t, 0, r.code, "%s", r)
	r = run("ops:"+wrong, "", "doctor")
	assert.Contains(t, r.err, "note: clock drift not measured: these credentials cannot write under "+e.root)
	r = run("ops:"+secret, "", "pause", "orders-base")
	require.Equal(t, 0, r.code, "%s", r)
	assert.Contains(t, r.out, "strategy orders-base: paused")

	r = run("ops:"+secret, "", "--help")
	assert.Equal(t, 0, r.code)
	assert.Contains(t, r.out, "Usage: tbsctl")
	r = run("", "", "nosuch")
	assert.Equal(t, ctl.ExitUsage, r.code)
}
