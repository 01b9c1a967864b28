package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

// Migrations are embedded SQL files named NNNN_name.sql, applied in order, one
// transaction each. Where the engines need different SQL, a migration has two files,
// NNNN_name.sqlite.sql and NNNN_name.postgres.sql, and each engine takes its own.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the migrations for engine, in order.
func migrations(engine Engine) ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	byVersion := map[int]migration{}
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".sql")
		specific := ""
		for _, eng := range []Engine{SQLite, Postgres} {
			if strings.HasSuffix(name, "."+string(eng)) {
				specific, name = string(eng), strings.TrimSuffix(name, "."+string(eng))
			}
		}
		if specific != "" && specific != string(engine) {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number and _", e.Name())
		}
		body, err := fs.ReadFile(migrationFiles, "migrations/"+e.Name())
		if err != nil {
			return nil, err
		}
		if old, dup := byVersion[v]; dup && old.name != name {
			return nil, fmt.Errorf("migration %d: two names, %s and %s", v, old.name, name)
		}
		if _, dup := byVersion[v]; dup && specific == "" {
			continue // an engine-specific file wins over a common one
		}
		byVersion[v] = migration{version: v, name: name, sql: string(body)}
	}
	out := make([]migration, 0, len(byVersion))
	for _, m := range byVersion {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// migrate applies the migrations not yet applied. Several processes may start at once
// on one database: on PostgreSQL they queue on an advisory lock; on SQLite the
// immediate transaction holds the write lock, and each checks again inside it.
func (db *DB) migrate(ctx context.Context) error {
	ms, err := migrations(db.engine)
	if err != nil {
		return err
	}
	conn, err := db.write.Conn(ctx)
	if err != nil {
		return unavailable("store.migrate", err)
	}
	defer conn.Close()
	if db.engine == Postgres {
		// The key is arbitrary but fixed: "dataport" as a number.
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(7306657657626144372)`); err != nil {
			return err
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(7306657657626144372)`)
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version BIGINT PRIMARY KEY,
		name TEXT NOT NULL,
		applied_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, m := range ms {
		if err := db.apply(ctx, conn, m); err != nil {
			return fmt.Errorf("migration %04d_%s: %w", m.version, m.name, err)
		}
	}
	return nil
}

func (db *DB) apply(ctx context.Context, conn *sql.Conn, m migration) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = $1`, m.version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
		m.version, m.name, FormatTime(db.clock.Now())); err != nil {
		return err
	}
	return tx.Commit()
}

// SchemaVersion returns the highest applied migration, for readiness checks.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	err := db.read.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v)
	if err != nil {
		return 0, unavailable("store.SchemaVersion", err)
	}
	return int(v.Int64), nil
}

// LatestSchemaVersion is the highest migration this binary carries.
func (db *DB) LatestSchemaVersion() int {
	ms, err := migrations(db.engine)
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}
