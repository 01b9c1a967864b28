package store

import (
	"context"
	"database/sql/driver"
	"fmt"
	"sync"
	"time"
)

// Leadership: several `dataport serve` replicas share one database, and some work
// must be done by exactly one of them at a time — the log's integrator (one signer
// of checkpoints, so the tree grows in one total order) and the background jobs
// (harvest schedules, escrow release, webhook delivery, sweeps: each must run once,
// not once per replica). Lead elects that one through the database itself, so no
// other coordinator is needed:
//
//   - PostgreSQL: a session-level advisory lock (pg_try_advisory_lock) held on a
//     connection of its own. The server releases it the moment that session ends —
//     the process exits, is killed, or its connection is cut — so another replica
//     takes over at its next try. The key is a hash of the schema and the role, so
//     exchanges in different schemas of one database do not contend.
//   - SQLite: an exclusive flock(2) on a file beside the database, which the kernel
//     releases when the process dies. SQLite lives on one machine, so the lock
//     covers every process that can open the database.
//
// Leadership is a liveness device, not the only guard of correctness: the work done
// under it keeps its own row locks (the integrator updates log_tree first in each
// transaction), so a leader cut off from the database that has not yet noticed can
// never sign a second, diverging view.

// LeadRetry is how often a replica that does not lead tries to take the role: the
// longest a role stays unfilled after its leader dies.
var LeadRetry = time.Second

// leadCheck is how often a leader checks that it still holds its role.
var leadCheck = time.Second

// Lead runs lead while this process holds role, and tries to take the role
// whenever it does not, until ctx ends. lead's context is cancelled when the role
// is lost (its lock's connection failed); Lead waits for it to return and then
// competes again. Lead returns when ctx ends, after lead has returned.
func (db *DB) Lead(ctx context.Context, role string, lead func(ctx context.Context)) {
	for ctx.Err() == nil {
		held, err := db.takeRole(ctx, role)
		if err == nil && held != nil {
			db.setLeading(role, true)
			db.hold(ctx, held, lead)
			db.setLeading(role, false)
			held.release()
		}
		select {
		case <-ctx.Done():
		case <-time.After(LeadRetry):
		}
	}
}

// Leading tells whether this process holds role now.
func (db *DB) Leading(role string) bool {
	db.leadMu.Lock()
	defer db.leadMu.Unlock()
	return db.leading[role]
}

func (db *DB) setLeading(role string, on bool) {
	db.leadMu.Lock()
	defer db.leadMu.Unlock()
	if db.leading == nil {
		db.leading = map[string]bool{}
	}
	db.leading[role] = on
}

// hold runs lead until ctx ends or the role is found lost.
func (db *DB) hold(ctx context.Context, held *heldRole, lead func(context.Context)) {
	leading, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		lead(leading)
	}()
	t := time.NewTicker(leadCheck)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			stop()
			<-done
			return
		case <-t.C:
			if err := held.check(ctx); err != nil && ctx.Err() == nil {
				stop()
				<-done
				return
			}
		}
	}
}

// heldRole is a role this process holds: check tells it still does, release
// gives it up.
type heldRole struct {
	check   func(context.Context) error
	release func()
}

// takeRole tries once to take role; nil without an error means another process
// holds it.
func (db *DB) takeRole(ctx context.Context, role string) (*heldRole, error) {
	switch db.engine {
	case Postgres:
		return db.takeAdvisoryLock(ctx, role)
	case SQLite:
		return lockFile(db.path + ".lead-" + role)
	}
	return nil, fmt.Errorf("leadership: unknown engine %q", db.engine)
}

func (db *DB) takeAdvisoryLock(ctx context.Context, role string) (*heldRole, error) {
	conn, err := db.write.Conn(ctx)
	if err != nil {
		return nil, err
	}
	// hashtextextended gives the 64-bit key the lock functions take.
	const key = `hashtextextended(current_schema() || ' dataport lead ' || $1, 0)`
	var got bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock(`+key+`)`, role).Scan(&got); err != nil || !got {
		conn.Close()
		return nil, err
	}
	var once sync.Once
	return &heldRole{
		check: func(ctx context.Context) error {
			check, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			return conn.PingContext(check)
		},
		release: func() {
			once.Do(func() {
				// End the session rather than unlock and pool it: a session-level
				// lock lives as long as its session, and a pooled connection whose
				// unlock failed would keep the role from everyone.
				conn.Raw(func(any) error { return driver.ErrBadConn })
				conn.Close()
			})
		},
	}, nil
}
