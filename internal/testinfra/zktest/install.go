package zktest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// installHint is the command that installs what Available looks for.
const installHint = "apt-get update && apt-get install -y zookeeper"

// debianJavaDir is where the Debian package puts zookeeper.jar and the
// jars its manifest Class-Path names.
const debianJavaDir = "/usr/share/java"

// install is a located ZooKeeper installation: the java binary and the
// classpath that runs QuorumPeerMain.
type install struct {
	java      string
	classpath []string
	// simpleLogger is true when slf4j-simple was added as the logging
	// binding, so its properties are passed to the JVM.
	simpleLogger bool
	// jvmExtra are more JVM options, after the defaults (so they override
	// them); only StartProgram sets them.
	jvmExtra []string
}

// Available reports whether real ZooKeeper servers can be started: nil when
// a java binary ($JAVA_HOME/bin/java or java on $PATH) and the ZooKeeper jar
// ($ZOOKEEPER_HOME, or /usr/share/java/zookeeper.jar) are found. Otherwise the
// error says what is missing and names the install command.
func Available() error {
	_, err := findInstall()
	return err
}

// Require skips t when Available reports an error, or fails it when the
// environment variable TBS_REQUIRE_ZK is "1" (set it in CI so that missing
// ZooKeeper is never silently skipped).
func Require(t testing.TB) {
	t.Helper()
	if err := Available(); err != nil {
		if os.Getenv("TBS_REQUIRE_ZK") == "1" {
			t.Fatalf("%v (TBS_REQUIRE_ZK=1)", err)
		}
		t.Skip(err.Error())
	}
}

func findInstall() (install, error) {
	var inst install
	java, err := findJava()
	if err != nil {
		return inst, fmt.Errorf("zktest: java not found (%v); install it: %s", err, installHint)
	}
	inst.java = java

	if home := os.Getenv("ZOOKEEPER_HOME"); home != "" {
		inst.classpath, err = homeClasspath(home)
		if err != nil {
			return inst, fmt.Errorf("zktest: ZOOKEEPER_HOME=%s: %w; unset it to use the Debian package (%s)", home, err, installHint)
		}
	} else {
		jar := filepath.Join(debianJavaDir, "zookeeper.jar")
		if !isFile(jar) {
			return inst, fmt.Errorf("zktest: ZooKeeper not found (no %s, ZOOKEEPER_HOME unset); install it: %s", jar, installHint)
		}
		// The jar's manifest Class-Path names its dependencies.
		inst.classpath = []string{jar}
	}

	if !hasLoggingBinding(inst.classpath) {
		simple := filepath.Join(debianJavaDir, "slf4j-simple.jar")
		if isFile(simple) {
			inst.classpath = append(inst.classpath, simple)
			inst.simpleLogger = true
		}
	}
	return inst, nil
}

func findJava() (string, error) {
	if home := os.Getenv("JAVA_HOME"); home != "" {
		java := filepath.Join(home, "bin", "java")
		if isFile(java) {
			return java, nil
		}
	}
	return exec.LookPath("java")
}

// homeClasspath builds the classpath of a ZooKeeper binary distribution:
// its conf directory (logging configuration) and every jar in it and in lib/.
func homeClasspath(home string) ([]string, error) {
	var cp []string
	if conf := filepath.Join(home, "conf"); isDir(conf) {
		cp = append(cp, conf)
	}
	found := false
	for _, pattern := range []string{"*.jar", "lib/*.jar"} {
		jars, _ := filepath.Glob(filepath.Join(home, pattern))
		for _, j := range jars {
			base := filepath.Base(j)
			if base == "zookeeper.jar" || (strings.HasPrefix(base, "zookeeper-3") && !strings.Contains(base, "-jute")) {
				found = true
			}
		}
		cp = append(cp, jars...)
	}
	if !found {
		return nil, errors.New("no zookeeper-3*.jar or zookeeper.jar in it or in its lib/")
	}
	return cp, nil
}

func hasLoggingBinding(classpath []string) bool {
	for _, p := range classpath {
		base := filepath.Base(p)
		for _, b := range []string{"logback-classic", "slf4j-log4j12", "slf4j-reload4j", "slf4j-simple", "log4j-slf4j"} {
			if strings.HasPrefix(base, b) {
				return true
			}
		}
	}
	return false
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// jvmArgs returns the java command line that runs a server from cfgPath,
// logging into dir.
func (inst install) jvmArgs(cfgPath, dir string) []string {
	args := []string{
		// Lean and quick to start: tests start many short-lived servers.
		"-Xmx128m", "-Xms16m", "-Xss512k",
		"-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:CICompilerCount=1",
		"-XX:-UsePerfData", "-Xshare:auto",
		"-Djava.awt.headless=true",
		"-Djava.net.preferIPv4Stack=true",
		"-Dzookeeper.DigestAuthenticationProvider.superDigest=" + SuperDigest,
		"-Dzookeeper.jmx.log4j.disable=true",
		"-Dzookeeper.snapshot.trust.empty=true",
		// Re-run leader election quickly after a member dies or returns
		// (the default backs off to 60 s).
		"-Dzookeeper.fastleader.maxNotificationInterval=1000",
		"-Dzookeeper.cnxTimeout=1000",
		"-Dzookeeper.log.dir=" + dir,
		"-Dzookeeper.log.file=zookeeper.log",
		"-Dzookeeper.root.logger=INFO,CONSOLE",
		"-Dzookeeper.console.threshold=INFO",
	}
	if inst.simpleLogger {
		args = append(args,
			"-Dorg.slf4j.simpleLogger.showDateTime=true",
			"-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS",
			"-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
		)
	}
	args = append(args, inst.jvmExtra...)
	return append(args,
		"-cp", strings.Join(inst.classpath, string(os.PathListSeparator)),
		"org.apache.zookeeper.server.quorum.QuorumPeerMain", cfgPath)
}
