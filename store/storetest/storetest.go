// Package storetest opens test databases on every engine and holds the storage
// conformance suite that both engines must pass.
//
// SQLite runs always, in a temporary file. PostgreSQL runs when
// DATAPORT_TEST_POSTGRES holds the URL of a database the tests may create schemas in;
// each test gets a schema of its own, dropped afterwards. Under CI (CI=true) a missing
// DATAPORT_TEST_POSTGRES fails the test instead of skipping it.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/dataport/dataport/store"
	_ "github.com/jackc/pgx/v5/stdlib"
)

// PostgresEnv names the variable holding the PostgreSQL test database URL.
const PostgresEnv = "DATAPORT_TEST_POSTGRES"

// Engines lists the engines to test on here.
func Engines() []store.Engine {
	return []store.Engine{store.SQLite, store.Postgres}
}

// ForEachEngine runs fn as a subtest (or sub-benchmark) per engine.
func ForEachEngine[T interface {
	testing.TB
	Run(string, func(T)) bool
}](t T, fn func(t T, engine store.Engine)) {
	t.Helper()
	for _, e := range Engines() {
		t.Run(string(e), func(t T) {
			if e == store.Postgres {
				RequirePostgres(t)
			}
			fn(t, e)
		})
	}
}

// RequirePostgres skips t when no PostgreSQL test database is configured, and fails it
// under CI, where one always is.
func RequirePostgres(t testing.TB) string {
	t.Helper()
	u := os.Getenv(PostgresEnv)
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: CI must run the PostgreSQL suite", PostgresEnv)
		}
		t.Skipf("PostgreSQL suite skipped: set %s to a postgres:// URL of a scratch database (UTF-8) to run it", PostgresEnv)
	}
	return u
}

// DSN returns a fresh, empty database for t on engine and removes it when t ends.
func DSN(t testing.TB, engine store.Engine) string {
	t.Helper()
	switch engine {
	case store.SQLite:
		return "sqlite:" + filepath.Join(t.TempDir(), "dataport.db")
	case store.Postgres:
		base := RequirePostgres(t)
		b := make([]byte, 6)
		rand.Read(b)
		schema := "t_" + hex.EncodeToString(b)
		admin, err := sql.Open("pgx", base)
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close()
		if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
			t.Fatalf("create schema: %v", err)
		}
		t.Cleanup(func() {
			admin, err := sql.Open("pgx", base)
			if err != nil {
				return
			}
			defer admin.Close()
			admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
		})
		u, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	t.Fatalf("unknown engine %q", engine)
	return ""
}

// Open opens a fresh, migrated database for t on engine and closes it when t ends.
func Open(t testing.TB, engine store.Engine, opts store.Options) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), DSN(t, engine), opts)
	if err != nil {
		t.Fatalf("open %s: %v", engine, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
