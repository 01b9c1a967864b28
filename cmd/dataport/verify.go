package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/trade"
	"github.com/gowebpki/jcs"
	"golang.org/x/mod/sumdb/note"
)

const verifyUsage = `Usage:
  dataport verify -key VKEY [-entries] [-since FILE] [-witness WKEY ...] URL|DIR
  dataport verify -key VKEY -proof FILE [-entry FILE]
  dataport verify -key VKEY -certificate FILE

Checks a C2SP tlog-tiles log — dataport's (its /log prefix) or any other — from a URL
or a local directory: the checkpoint's signature by VKEY, every tile against the signed
root, with -entries every entry against its leaf, with -since that an earlier saved
checkpoint is a prefix of this one. With -proof it checks a C2SP tlog-proof bundle
offline: signed checkpoint, entry (the bundle's extra data, or -entry), inclusion.
With -certificate it checks a transaction certificate as GET /api/v1/deals/{id}/certificate
gives it: the exchange's signature over the certificate, and that the certificate is the
one filed in the log entry its tlog-proof proves. Exits 0 only when everything holds.
`

func verify(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, verifyUsage); fs.PrintDefaults() }
	key := fs.String("key", getenv("DATAPORT_LOG_VKEY"), "the log's verifier key (DATAPORT_LOG_VKEY)")
	entries := fs.Bool("entries", false, "also check every entry against its leaf hash")
	since := fs.String("since", "", "file with an earlier signed checkpoint this one must extend")
	proof := fs.String("proof", "", "a C2SP tlog-proof bundle to check offline")
	entry := fs.String("entry", "", "with -proof: the entry, when the bundle carries none")
	certificate := fs.String("certificate", "", "a transaction certificate with its proof (the JSON of GET /api/v1/deals/{id}/certificate)")
	save := fs.String("save", "", "write the verified checkpoint to this file, for a later -since")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after this long")
	var witnesses []ledger.Witness
	fs.Func("witness", "a witness's cosignature/v1 verifier key; the checkpoint must carry its cosignature (repeatable)", func(v string) error {
		w, err := ledger.ParseWitnessKey(v)
		witnesses = append(witnesses, w)
		return err
	})
	// Flags may come before and after the log's location.
	if err := fs.Parse(args); err != nil {
		return err
	}
	var where string
	if fs.NArg() > 0 {
		where = fs.Arg(0)
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return fmt.Errorf("verify: unexpected argument %q", fs.Arg(0))
		}
	}
	if *key == "" {
		return errors.New("verify: -key is required: the log's verifier key")
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	if *certificate != "" {
		msg, err := verifyCertificate(*certificate, *key)
		if err != nil {
			return fmt.Errorf("verify: certificate: %v", err)
		}
		fmt.Fprintln(stdout, msg)
		fmt.Fprintln(stdout, "OK")
		return nil
	}
	if *proof != "" {
		text, err := os.ReadFile(*proof)
		if err != nil {
			return fmt.Errorf("verify: %v", err)
		}
		var e []byte
		if *entry != "" {
			if e, err = os.ReadFile(*entry); err != nil {
				return fmt.Errorf("verify: %v", err)
			}
		}
		b, cp, err := ledger.VerifyProofBundle(text, *key, e)
		if err != nil {
			return fmt.Errorf("verify: proof: %v", err)
		}
		fmt.Fprintf(stdout, "proof: entry %d is included in %s at size %d (checkpoint signature verified)\n", b.Index, cp.Origin, cp.Size)
		if where == "" {
			fmt.Fprintln(stdout, "OK")
			return nil
		}
	}
	if where == "" {
		fmt.Fprint(stderr, verifyUsage)
		return fmt.Errorf("verify: give the log's URL or directory: %w", errUsage)
	}
	var src ledger.Source = ledger.DirSource(where)
	if strings.HasPrefix(where, "http://") || strings.HasPrefix(where, "https://") {
		src = ledger.HTTPSource{Prefix: where, Client: &http.Client{Timeout: time.Minute}}
	} else if st, err := os.Stat(where); err != nil || !st.IsDir() {
		return fmt.Errorf("verify: %s is neither an http(s) URL nor a directory", where)
	}
	opts := ledger.VerifyOptions{Key: *key, Entries: *entries, Witnesses: witnesses,
		Progress: func(format string, a ...any) { fmt.Fprintf(stdout, format+"\n", a...) }}
	if *since != "" {
		b, err := os.ReadFile(*since)
		if err != nil {
			return fmt.Errorf("verify: %v", err)
		}
		opts.Since = b
	}
	rep, err := ledger.VerifyLog(ctx, src, opts)
	if err != nil {
		return fmt.Errorf("verify: FAILED: %v", err)
	}
	if *save != "" {
		if err := os.WriteFile(*save, rep.Checkpoint.Note, 0o644); err != nil {
			return fmt.Errorf("verify: %v", err)
		}
	}
	fmt.Fprintln(stdout, "OK")
	return nil
}

// verifyCertificate checks a transaction certificate file offline: the exchange's
// signed note over the certificate's canonical JSON, the tlog-proof of its filing
// against a checkpoint signed by the same key, and that the filing carries exactly
// this certificate.
func verifyCertificate(path, vkey string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var f struct {
		Canonical  string `json:"canonical"`
		SignedNote string `json:"signed_note"`
		FilingSeq  int64  `json:"filing_seq"`
		Proof      string `json:"proof"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return "", fmt.Errorf("not a certificate file: %v", err)
	}
	v, err := note.NewVerifier(strings.TrimSpace(vkey))
	if err != nil {
		return "", fmt.Errorf("-key: %v", err)
	}
	n, err := note.Open([]byte(f.SignedNote), note.VerifierList(v))
	if err != nil {
		return "", fmt.Errorf("the exchange's signature: %v", err)
	}
	if n.Text != trade.CertificateKind+"\n"+f.Canonical+"\n" {
		return "", errors.New("the signed note is not over this certificate")
	}
	if f.Proof == "" {
		return "", errors.New("no proof yet: fetch the certificate again with ?wait=10 once a checkpoint covers its filing")
	}
	bundle, cp, err := ledger.VerifyProofBundle([]byte(f.Proof), vkey, nil)
	if err != nil {
		return "", fmt.Errorf("proof: %v", err)
	}
	var entry struct {
		Type    string `json:"type"`
		Payload struct {
			Certificate json.RawMessage `json:"certificate"`
		} `json:"payload"`
	}
	if err := json.Unmarshal(bundle.Extra, &entry); err != nil || entry.Type != "trade.certified" {
		return "", errors.New("the proven log entry is not a certificate filing")
	}
	filed, err := jcs.Transform(entry.Payload.Certificate)
	if err != nil || string(filed) != f.Canonical {
		return "", errors.New("the proven filing carries another certificate")
	}
	return fmt.Sprintf("certificate: signed by the exchange and filed as entry %d of %s (checkpoint size %d)", bundle.Index, cp.Origin, cp.Size), nil
}
