package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
)

const adminUsage = `Usage:
  dataport admin create-key -participant ID [-name NAME] [-roles r1,r2] [-expires 720h]
        issue an API key as the exchange itself and print it (shown once)
  dataport admin log-key -origin ORIGIN [-out FILE]
        create the log's Ed25519 signer key in FILE (default: log.key in the data
        folder; never overwritten) and print its verifier key
  dataport admin migrate
        apply pending database migrations and print the schema version
  dataport admin participants
        list the registry: id, status, KYC, roles, name
  dataport admin check [-grace 24h] [-contents] [-repair]
        check the data's consistency (the log, the books, the blobs, temporary
        files): one line per check, a failure when any fails
` + backupUsage + `
Each takes -data and -db (DATAPORT_DATA_DIR, DATAPORT_DB) to find the database.
`

func admin(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, adminUsage)
		return errUsage
	}
	cmd, rest := args[0], args[1:]
	fs := flag.NewFlagSet("admin "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	c.flags(fs, getenv, "dataport-data")
	switch cmd {
	case "create-key":
		participant := fs.String("participant", "", "participant id (default: the exchange operator)")
		name := fs.String("name", "admin", "a name for the key")
		roles := fs.String("roles", "", "comma-separated roles; all of the participant's when empty")
		expires := fs.Duration("expires", 0, "lifetime of the key, e.g. 720h; never expires when 0")
		if err := parse(fs, rest); err != nil {
			return err
		}
		if *expires < 0 {
			return fmt.Errorf("-expires %s: must not be negative", *expires)
		}
		db, err := c.open(ctx)
		if err != nil {
			return err
		}
		defer db.Close()
		reg := registry.New(db)
		id := *participant
		if id == "" {
			if id, err = reg.Operator(ctx); err != nil {
				return err
			}
		}
		n := registry.NewAPIKey{Name: *name}
		for _, r := range strings.Split(*roles, ",") {
			if r = strings.TrimSpace(r); r != "" {
				n.Roles = append(n.Roles, dataport.Role(r))
			}
		}
		if *expires > 0 {
			n.ExpiresAt = db.Clock().Now().Add(*expires)
		}
		k, token, err := reg.IssueKey(ctx, id, n)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "API key %s for %s (roles %s); shown this once:\n", k.ID, k.ParticipantID, joinRoles(k.Roles))
		fmt.Fprintln(stdout, token)
		return nil

	case "log-key":
		origin := fs.String("origin", "", "the log's origin: its URL prefix without the scheme, e.g. exchange.example/log")
		out := fs.String("out", "", "file for the signer key (default: log.key in the data folder)")
		if err := parse(fs, rest); err != nil {
			return err
		}
		if *origin == "" {
			return errors.New("admin log-key: -origin is required")
		}
		path := *out
		if path == "" {
			path = c.logKeyFile()
		}
		skey, vkey, err := ledger.GenerateKey(*origin)
		if err != nil {
			return err
		}
		if err := writeKeyFile(path, skey); err != nil {
			return fmt.Errorf("admin log-key: %w", err)
		}
		fmt.Fprintf(stderr, "log signer key written to %s (keep it secret, and the same on every replica); verifier key:\n", path)
		fmt.Fprintln(stdout, vkey)
		return nil

	case "migrate":
		if err := parse(fs, rest); err != nil {
			return err
		}
		db, err := c.open(ctx)
		if err != nil {
			return err
		}
		defer db.Close()
		v, err := db.SchemaVersion(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s schema at version %d\n", db.Engine(), v)
		return nil

	case "backup":
		out := fs.String("out", "", "the backup folder to create (never overwritten)")
		if err := parse(fs, rest); err != nil {
			return err
		}
		return backup(ctx, &c, *out, getenv, stdout)

	case "restore":
		in := fs.String("in", "", "the backup folder to restore")
		if err := parse(fs, rest); err != nil {
			return err
		}
		return restore(ctx, &c, *in, getenv, stdout)

	case "check":
		return adminCheck(ctx, fs, &c, rest, stdout, stderr)

	case "participants":
		if err := parse(fs, rest); err != nil {
			return err
		}
		db, err := c.open(ctx)
		if err != nil {
			return err
		}
		defer db.Close()
		reg := registry.New(db)
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSTATUS\tKYC\tROLES\tNAME")
		after := ""
		for {
			page, next, err := reg.ListParticipants(ctx, dataport.System, registry.ListFilter{After: after, Limit: 500})
			if err != nil {
				return err
			}
			for _, p := range page {
				name := p.LegalName.En
				if p.LegalName.Zh != "" {
					name = p.LegalName.Zh + " " + name
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.ID, p.Status, p.KYC.Status, joinRoles(p.Roles), strings.TrimSpace(name))
			}
			if next == "" {
				break
			}
			after = next
		}
		return tw.Flush()
	}
	fmt.Fprint(stderr, adminUsage)
	return fmt.Errorf("unknown admin command %q: %w", cmd, errUsage)
}

func joinRoles(roles []dataport.Role) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, ",")
}

// open opens the database the flags name, applying pending migrations.
func (c *config) open(ctx context.Context) (*store.DB, error) {
	return store.Open(ctx, c.dsn(), store.Options{})
}
