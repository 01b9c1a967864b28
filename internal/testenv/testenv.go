// Package testenv is how tests meet what they need from outside the project: a
// server (PostgreSQL, an S3-compatible store), a program (nginx, s3cmd, git) or the
// shared test data. On a laptop without it a test skips, saying what is missing
// and how to provide it; under CI (CI=true), which provides all of them, the same
// absence fails the test, so that nothing is skipped silently there.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// Missing skips tb (fails it under CI) because what the message names is absent.
func Missing(tb testing.TB, format string, args ...any) {
	tb.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		tb.Fatal("CI provides this, but: " + msg)
	}
	tb.Skip(msg)
}

// Tool returns the path of a program: $env when set (and env is not empty), else
// name on PATH; when neither is there, Missing.
func Tool(tb testing.TB, env, name string) string {
	tb.Helper()
	if env != "" {
		if p := os.Getenv(env); p != "" {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if env == "" {
		Missing(tb, "%s not found on PATH; install it", name)
	} else {
		Missing(tb, "%s not found on PATH; install it or set %s to its path", name, env)
	}
	return ""
}
