package doccheck

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadmeSteps(t *testing.T) {
	const good = "intro\n\n## Run it on ZooKeeper\n\ntext\n\n" +
		"   ```sh\n   scripts/zookeeper start /tmp/z\n   ```\n\n   ```\n   output\n   127.0.0.1:1\n   ```\n" +
		"```sh\ngo run ./examples/service -zk 127.0.0.1:1\n```\n" +
		"```sh\ngo run ./examples/service -zk 127.0.0.1:1\n```\n" +
		"```sh\ngo run ./cmd/tbsctl -zk 127.0.0.1:1 -root /a status emails\n```\n" +
		"```sh\nscripts/zookeeper stop /tmp/z\n```\n" +
		"## Next\n```sh\nrm -rf /\n```\n"
	steps, err := readmeSteps(good)
	require.NoError(t, err)
	assert.Equal(t, []string{"scripts/zookeeper", "start", "/tmp/z"}, steps[0].args)
	assert.Equal(t, stepStop, steps[4].kind)

	for _, tc := range []struct{ name, readme, want string }{
		{"no section", "# x\n", `README has no "## Run it on ZooKeeper" section`},
		{"shell syntax", "## Run it on ZooKeeper\n```sh\nZK=$(scripts/zookeeper start /tmp/z)\n```\n", `"$" is shell syntax`},
		{"unknown command", "## Run it on ZooKeeper\n```sh\nrm -rf /tmp/z\n```\n", `README step "rm -rf /tmp/z" is none of`},
		{"one service", "## Run it on ZooKeeper\n```sh\nscripts/zookeeper start /tmp/z\ngo run ./examples/service\n" +
			"go run ./cmd/tbsctl status\nscripts/zookeeper stop /tmp/z\n```\n", `want ["start ZooKeeper" "run the service" "run the service"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readmeSteps(tc.readme)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestLocalize(t *testing.T) {
	got := localize([]string{"go", "run", "x", "-zk", "127.0.0.1:39233", "-dir", "/tmp/tbs-zk", "/tmp/tbs-zk2"},
		"/tmp/tbs-zk", "/t/1", "127.0.0.1:5")
	assert.Equal(t, []string{"go", "run", "x", "-zk", "127.0.0.1:5", "-dir", "/t/1", "/tmp/tbs-zk2"}, got)
}
