// Command dataport runs the dataport data exchange.
//
//	dataport serve     run the exchange
//	dataport demo      run it on a seeded demo world, printing the URL and a key per role
//	dataport admin …   administrative tasks (create-key, log-key, migrate, participants, check, backup, restore)
//	dataport verify    check a C2SP tlog-tiles log or a tlog-proof bundle
//	dataport put       upload a product revision's files, resumably
//	dataport get       download a deal's file, a signed link or a mirrored object, resumably
//	dataport mirror …  the domestic mirror: add, list, sync, remove upstreams
//	dataport harvest   harvest a platform's catalog now
//	dataport ingest    send a merchant's order data, as a batch or a live stream; its shops
//	dataport scorecard train a credit scorecard (cross-validated metrics as JSON), or compare two samples (psi)
//	dataport credit    a merchant's credit decision: make one (decide), or show the latest
//	dataport bench     a whole-system load test against running servers, with latency percentiles
//	dataport version   print the version
//
// Configuration comes from flags, with environment variables as fallbacks
// (DATAPORT_ADDR, DATAPORT_DATA_DIR, DATAPORT_DB, DATAPORT_LOG_FORMAT, DATAPORT_LOG_LEVEL).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if err != errUsage && !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "dataport:", oneLine(err))
		}
		if errors.Is(err, errUsage) || errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

const usage = `dataport runs the dataport data exchange.

Usage:
  dataport serve     run the exchange (SQLite in the data folder, or PostgreSQL with -db)
  dataport demo      run the exchange on a seeded demo world; prints the URL and a key per role
  dataport admin     administrative tasks: create-key, log-key, migrate, participants, check, backup, restore
  dataport verify    check a C2SP transparency log, or a proof bundle, offline
  dataport put       upload a product revision's files, resumably, and seal its manifest
  dataport get       download a deal's file (checked against the filed manifest), a signed link or a mirrored object
  dataport mirror    the domestic mirror of foreign open data: add, list, sync, remove
  dataport harvest   harvest an international platform's catalog now, with its report
  dataport ingest    send a merchant's order data (CSV or JSON lines), as a batch or a live stream; connect and list its shops
  dataport scorecard train a credit scorecard on a labelled CSV (cross-validated metrics as JSON); psi compares two samples
  dataport credit    a merchant's credit decision: decide makes one (score, grade, PD, line, reasons), show prints the latest
  dataport bench     drive a running exchange with a mix of searches, deals, downloads, ingests and credit decisions; latency percentiles
  dataport version   print the version

Run "dataport COMMAND -h" for a command's flags.
`

// run is the whole program; main only supplies the process's context, arguments,
// environment and output, so tests can call run as it is.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		return serve(ctx, rest, getenv, stdout, stderr, false)
	case "demo":
		return serve(ctx, rest, getenv, stdout, stderr, true)
	case "admin":
		return admin(ctx, rest, getenv, stdout, stderr)
	case "verify":
		return verify(ctx, rest, getenv, stdout, stderr)
	case "put":
		return putCmd(ctx, rest, getenv, stdout, stderr)
	case "get":
		return getCmd(ctx, rest, getenv, stdout, stderr)
	case "mirror":
		return mirrorCmd(ctx, rest, getenv, stdout, stderr)
	case "harvest":
		return harvestCmd(ctx, rest, getenv, stdout, stderr)
	case "ingest":
		return ingestCmd(ctx, rest, getenv, stdout, stderr)
	case "scorecard":
		return scorecardCmd(ctx, rest, getenv, stdout, stderr)
	case "credit":
		return creditCmd(ctx, rest, getenv, stdout, stderr)
	case "bench":
		return benchCmd(ctx, rest, getenv, stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "dataport", version())
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q: %w", cmd, errUsage)
	}
}
