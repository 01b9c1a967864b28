package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/dataport/dataport"
	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// A database that cannot be reached, or cannot take the work now, is a fault of a
// dependency, not of the request nor of the exchange's code: the request fails with
// KindUnavailable (HTTP 503 with Retry-After), the transaction is rolled back, and the
// next request tries again — the pool opens new connections once the database is
// back, so the exchange recovers by itself, without a restart.
//
// PostgreSQL is reached over the network and the connection can go away at any point:
// refused or timed out while connecting, reset or closed in the middle of a statement,
// or ended by the server as it shuts down (SQLSTATE class 08, 57P01-57P03). SQLite is
// a file opened in the process: it has no connection to lose. Its one way of being
// unavailable is another process holding the write lock beyond the busy timeout
// (SQLITE_BUSY, SQLITE_LOCKED); a full disk (SQLITE_FULL) is the operator's to fix,
// after which the same request succeeds, so it is unavailable too.

// IsUnavailable reports whether err (anywhere in its chain) says the database could
// not be reached or could not take the work now: worth retrying later, unlike a
// constraint violation or a bug.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return unavailableState(pgErr.Code)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff { // the primary result code of an extended one
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL:
			return true
		}
		return false
	}
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) {
		return true // refused, timed out, or ended during the handshake
	}
	if pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return true
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	for _, e := range []error{syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE,
		syscall.ETIMEDOUT, syscall.EHOSTUNREACH, syscall.ENETUNREACH, io.ErrUnexpectedEOF, net.ErrClosed} {
		if errors.Is(err, e) {
			return true
		}
	}
	// pgx reports a connection it closed after an earlier failure as "conn closed"
	// without a sentinel to test for.
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "connection refused") ||
		strings.Contains(msg, "connection reset") || strings.Contains(msg, "broken pipe")
}

// unavailableState reports whether a PostgreSQL SQLSTATE says the server cannot take
// work now (PostgreSQL documentation, Appendix A: "PostgreSQL Error Codes").
func unavailableState(code string) bool {
	switch code {
	case "57P01", // admin_shutdown: the server is stopping (or the backend was terminated)
		"57P02", // crash_shutdown: another backend crashed, all are restarted
		"57P03", // cannot_connect_now: the server is starting up or in recovery
		"53300", // too_many_connections
		"58030", // io_error: the server's disk
		// The transaction lost to another and was rolled back whole: the same request
		// succeeds when sent again. (Writing groups lock the filing sequence first,
		// so replicas do not deadlock on it; other orders remain possible.)
		"40P01", // deadlock_detected
		"40001": // serialization_failure
		return true
	}
	return strings.HasPrefix(code, "08") // connection_exception and its subclasses
}

// unavailable classifies an error of the database itself (connecting, beginning,
// committing): KindUnavailable when the database cannot be reached or cannot take the
// work now, or the caller cancelled; internal otherwise.
func unavailable(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &dataport.Error{Op: op, Kind: dataport.KindUnavailable, Message: "request cancelled or timed out", Err: err}
	}
	if IsUnavailable(err) {
		return &dataport.Error{Op: op, Kind: dataport.KindUnavailable, Message: "database unavailable", Err: err}
	}
	return dataport.Internal(op, err)
}

// reclassify is unavailable for the error a transaction's work returned: services
// wrap the errors of their statements as internal (dataport.Internal), which is right
// for a bad query and wrong when the connection went away under it. Only internal
// errors are looked into: a request refused for what it asked (invalid, conflict, …)
// keeps its kind whatever else went wrong.
func reclassify(op string, err error) error {
	if err == nil || dataport.KindOf(err) != dataport.KindInternal {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || IsUnavailable(err) {
		return unavailable(op, err)
	}
	return err
}
