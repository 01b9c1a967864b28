package ledger_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
	"golang.org/x/mod/sumdb/note"
)

func TestWitnessCosignatures(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		ctx := context.Background()
		db := storetest.Open(t, engine, store.Options{})
		l, vkey := openLog(t, db)
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		w, err := ledger.ParseWitnessKey(ledger.WitnessKey("witness.example/w1", pub))
		if err != nil {
			t.Fatal(err)
		}
		strangerPub, strangerPriv, _ := ed25519.GenerateKey(rand.Reader)
		l.SetWitnesses([]ledger.Witness{w})
		file(t, db, 10)
		l.Integrate(ctx)
		cp, _ := l.Latest()
		body, _, _ := strings.Cut(string(cp.Note), "\n\n")
		body += "\n"
		now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

		// A stranger's cosignature, a forged one, or none at all: refused.
		for name, signed := range map[string]string{
			"stranger": string(cp.Note) + ledger.Cosign("stranger.example", strangerPriv, body, now),
			"forged":   string(cp.Note) + forge(ledger.Cosign("witness.example/w1", priv, body, now)),
			"none":     string(cp.Note),
			"garbage":  "not a checkpoint",
		} {
			if _, err := l.AddCosignatures(ctx, []byte(signed)); dataport.KindOf(err) != dataport.KindInvalid {
				t.Errorf("%s: err = %v, want invalid", name, err)
			}
		}
		_ = strangerPub
		// A cosigned view this log never signed — a split view — is a conflict.
		other := strings.Replace(body, base64.StdEncoding.EncodeToString(cp.Root[:]), base64.StdEncoding.EncodeToString(make([]byte, 32)), 1)
		if _, err := l.AddCosignatures(ctx, []byte(other+"\n"+ledger.Cosign("witness.example/w1", priv, other, now))); dataport.KindOf(err) != dataport.KindConflict {
			t.Fatalf("split view: err = %v, want conflict", err)
		}

		// The witness's real cosignature is stored and served on the checkpoint.
		n, err := l.AddCosignatures(ctx, []byte(string(cp.Note)+ledger.Cosign("witness.example/w1", priv, body, now)))
		if err != nil || n != 1 {
			t.Fatalf("add: %d, %v", n, err)
		}
		if n, _ := l.AddCosignatures(ctx, []byte(string(cp.Note)+ledger.Cosign("witness.example/w1", priv, body, now))); n != 0 {
			t.Fatal("the same cosignature was stored twice")
		}
		served, err := l.CosignedCheckpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := ledger.CheckCosigned(served, []ledger.Witness{w}); err != nil {
			t.Fatalf("served checkpoint: %v\n%s", err, served)
		}
		v, _ := note.NewVerifier(vkey)
		if _, err := note.Open(served, note.VerifierList(v)); err != nil {
			t.Fatalf("the cosigned checkpoint no longer opens with the log key: %v", err)
		}
		if _, err := ledger.VerifyLog(ctx, logSource{l}, ledger.VerifyOptions{Key: vkey, Witnesses: []ledger.Witness{w}}); err != nil {
			t.Fatal(err)
		}
		// A client requiring a second witness is not satisfied.
		w2, _ := ledger.ParseWitnessKey(ledger.WitnessKey("witness.example/w2", strangerPub))
		if _, err := ledger.VerifyLog(ctx, logSource{l}, ledger.VerifyOptions{Key: vkey, Witnesses: []ledger.Witness{w, w2}}); err == nil || !strings.Contains(err.Error(), "w2") {
			t.Fatalf("missing witness: %v", err)
		}
	})
}

// forge flips a bit of a cosignature's signature bytes.
func forge(line string) string {
	parts := strings.SplitN(strings.TrimSuffix(line, "\n"), " ", 3)
	blob, _ := base64.StdEncoding.DecodeString(parts[2])
	blob[len(blob)-1] ^= 1
	return parts[0] + " " + parts[1] + " " + base64.StdEncoding.EncodeToString(blob) + "\n"
}

func TestParseWitnessKey(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	good := ledger.WitnessKey("w.example", pub)
	if _, err := ledger.ParseWitnessKey(good); err != nil {
		t.Fatal(err)
	}
	_, vkey, _ := ledger.GenerateKey("log.example") // a log key (type 0x01), not a cosigner key
	for _, bad := range []string{"", "w.example", "w.example+00000000+AAAA", vkey,
		strings.Replace(good, "w.example+", "x.example+", 1)} {
		if _, err := ledger.ParseWitnessKey(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
