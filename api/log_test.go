package api_test

import (
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/store"
	"golang.org/x/mod/sumdb/note"
)

func TestLogEndpoints(t *testing.T) {
	each(t, func(t *testing.T, x *exchange) {
		buyerID, buyerKey := x.createWithKey(tencent)

		// A filing, waited for until a signed checkpoint covers it, comes with a
		// proof bundle that verifies offline with the verifier key alone.
		list := x.do("GET", "/api/v1/filings?subject="+buyerID, x.operator, nil).json(t)["items"].([]any)
		seq := int64(list[0].(map[string]any)["seq"].(float64))
		r := x.do("GET", fmt.Sprintf("/api/v1/filings/%d?wait=10", seq), x.operator, nil)
		wantStatus(t, r, http.StatusOK)
		body := r.json(t)
		bundle, _ := body["proof"].(string)
		if bundle == "" {
			t.Fatalf("no proof after waiting: %s", r.body)
		}
		b, cp, err := ledger.VerifyProofBundle([]byte(bundle), x.vkey, nil)
		if err != nil {
			t.Fatalf("proof bundle: %v\n%s", err, bundle)
		}
		if b.Index != seq-1 || string(b.Extra) != body["entry"].(string) {
			t.Fatalf("bundle index %d, extra %q", b.Index, b.Extra)
		}
		// A bundle whose entry was changed does not verify.
		forged := strings.Replace(bundle, "extra ", "extra A", 1)
		if _, _, err := ledger.VerifyProofBundle([]byte(forged), x.vkey, nil); err == nil {
			t.Fatal("a forged bundle verified")
		}

		// The checkpoint verifies with x/mod's note and the verifier key.
		c := x.do("GET", "/log/checkpoint", "", nil)
		wantStatus(t, c, http.StatusOK)
		if ct := c.header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
			t.Fatalf("checkpoint Content-Type %q", ct)
		}
		v, _ := note.NewVerifier(x.vkey)
		if _, err := note.Open(c.body, note.VerifierList(v)); err != nil {
			t.Fatalf("checkpoint: %v", err)
		}

		// Tiles: served immutable; malformed paths 400; beyond the tree 404.
		tile := x.do("GET", "/log/tile/0/000.p/"+fmt.Sprint(cp.Size%256), "", nil)
		wantStatus(t, tile, http.StatusOK)
		if !strings.Contains(tile.header.Get("Cache-Control"), "immutable") || len(tile.body) != int(cp.Size%256)*32 {
			t.Fatalf("tile: %d bytes, %q", len(tile.body), tile.header.Get("Cache-Control"))
		}
		for path, status := range map[string]int{
			"/log/tile/0/000":             404,
			"/log/tile/5/x999/999":        404,
			"/log/tile/0/000.p/255":       404,
			"/log/tile/entries/000.p/200": 404,
			"/log/tile/00/000":            400,
			"/log/tile/0/-01":             400,
			"/log/tile/0/x999/x999/x999/x999/x999/x999/x999/999": 400,
			"/log/tile/0/000.p/0":                                400,
			"/log/tile/99/000":                                   400,
			"/log/tile/0/000.p/1/extra":                          400,
		} {
			wantProblem(t, x.do("GET", path, "", nil), status, "")
		}

		// The trace: every filing about the buyer, each with its proof.
		tr := x.do("GET", "/api/v1/trace?subject="+buyerID, x.operator, nil)
		wantStatus(t, tr, http.StatusOK)
		items := tr.json(t)["items"].([]any)
		if len(items) != len(list) {
			t.Fatalf("trace has %d items, filings %d", len(items), len(list))
		}
		for _, it := range items {
			if p, _ := it.(map[string]any)["proof"].(string); p != "" {
				if _, _, err := ledger.VerifyProofBundle([]byte(p), x.vkey, nil); err != nil {
					t.Fatal(err)
				}
			}
		}
		// Others see only what names them.
		wantProblem(t, x.do("GET", "/api/v1/trace?subject="+x.operatorID(), buyerKey, nil), http.StatusForbidden, "")
		wantProblem(t, x.do("GET", "/api/v1/trace", x.operator, nil), http.StatusBadRequest, "")

		// A consistency proof between two sizes checks with the RFC 9162 verifier.
		x.createWithKey(with(tencent, "uscc", "914403001922038216"))
		x.do("GET", fmt.Sprintf("/api/v1/filings/%d?wait=10", x.filed()), x.operator, nil)
		latest, _ := x.log.Latest()
		cr := x.do("GET", fmt.Sprintf("/api/v1/log/consistency?from=%d", cp.Size), x.operator, nil)
		wantStatus(t, cr, http.StatusOK)
		var proof [][]byte
		for _, h := range cr.json(t)["proof"].([]any) {
			proof = append(proof, b64(t, h.(string)))
		}
		if err := ledger.CheckConsistency(proof, cp.Size, latest.Size, cp.Root[:], latest.Root[:]); err != nil {
			t.Fatalf("consistency %d→%d: %v", cp.Size, latest.Size, err)
		}
		wantProblem(t, x.do("GET", "/api/v1/log/consistency?from=0", x.operator, nil), http.StatusBadRequest, "")
		wantProblem(t, x.do("GET", fmt.Sprintf("/api/v1/log/consistency?from=%d", latest.Size+5), x.operator, nil), http.StatusBadRequest, "")
	})
}

func (x *exchange) filed() int64 {
	return x.log.Filed(context.Background())
}

func TestVerifyLiveLog(t *testing.T) {
	x := newExchange(t, store.SQLite)
	for i := 0; i < 3; i++ {
		x.createWithKey(with(tencent, "uscc", mustUSCC(fmt.Sprintf("91310000MA1K%05d", i))))
	}
	x.do("GET", fmt.Sprintf("/api/v1/filings/%d?wait=10", x.filed()), x.operator, nil)
	rep, err := ledger.VerifyLog(context.Background(), ledger.HTTPSource{Prefix: x.srv.URL + "/log"}, ledger.VerifyOptions{Key: x.vkey, Entries: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Entries != int(rep.Checkpoint.Size) || rep.Entries < 8 {
		t.Fatalf("verified %d entries of %d", rep.Entries, rep.Checkpoint.Size)
	}
	_, other, _ := ledger.GenerateKey("api.test.example/log")
	if _, err := ledger.VerifyLog(context.Background(), ledger.HTTPSource{Prefix: x.srv.URL + "/log"}, ledger.VerifyOptions{Key: other}); err == nil || !strings.Contains(err.Error(), "not signed by") {
		t.Fatalf("another key: %v", err)
	}
}

// TestVerifyALogOf100000Filings files 100,000 changes and verifies the live log over
// HTTP, tiles and entries, as `dataport verify -entries` does. With -short it files
// 10,000: still several full tiles and a partial one at every level it reaches.
func TestVerifyALogOf100000Filings(t *testing.T) {
	x := newExchange(t, store.SQLite)
	ctx := context.Background()
	total, chunk := 100_000, 5_000
	if testing.Short() {
		total = 10_000
	}
	for done := 0; done < total; done += chunk {
		err := x.db.Write(ctx, func(tx *store.Tx) error {
			for i := 0; i < chunk; i++ {
				if _, err := ledger.File(tx, dataportActor, ledger.Change{Type: "test.filed", Subjects: []string{fmt.Sprintf("deal_%d", (done+i)%977)},
					Payload: map[string]any{"n": done + i, "amount": 100 * (done + i), "currency": "CNY"}}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if _, err := x.log.WaitCovered(wctx, x.filed()); err != nil {
		t.Fatal(err)
	}
	rep, err := ledger.VerifyLog(ctx, ledger.HTTPSource{Prefix: x.srv.URL + "/log"}, ledger.VerifyOptions{Key: x.vkey, Entries: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Checkpoint.Size < int64(total) || rep.Entries != int(rep.Checkpoint.Size) {
		t.Fatalf("verified %d entries, checkpoint size %d", rep.Entries, rep.Checkpoint.Size)
	}
}

var dataportActor = dataport.Actor{ParticipantID: "prt_test", KeyID: "key_test"}

func TestWitnessCosignatureEndpoint(t *testing.T) {
	x := newExchange(t, store.SQLite)
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	w, _ := ledger.ParseWitnessKey(ledger.WitnessKey("witness.example/w1", pub))
	x.log.SetWitnesses([]ledger.Witness{w})
	x.createWithKey(tencent)
	x.do("GET", fmt.Sprintf("/api/v1/filings/%d?wait=10", x.filed()), x.operator, nil)
	c := x.do("GET", "/log/checkpoint", "", nil).body
	body, _, _ := strings.Cut(string(c), "\n\n")
	cosigned := string(c) + ledger.Cosign("witness.example/w1", priv, body+"\n", time.Now())
	r := x.do("POST", "/log/cosignature", "", cosigned)
	wantStatus(t, r, http.StatusOK)
	served := x.do("GET", "/log/checkpoint", "", nil).body
	if err := ledger.CheckCosigned(served, []ledger.Witness{w}); err != nil {
		t.Fatalf("served: %v\n%s", err, served)
	}
	wantProblem(t, x.do("POST", "/log/cosignature", "", string(c)), http.StatusBadRequest, "")
	wantProblem(t, x.do("POST", "/log/cosignature", "", strings.Repeat("x", 70<<10)), http.StatusRequestEntityTooLarge, "")
}

func TestEntryBundlesAreCompressed(t *testing.T) {
	x := newExchange(t, store.SQLite)
	x.do("GET", fmt.Sprintf("/api/v1/filings/%d?wait=10", x.filed()), x.operator, nil)
	cp, _ := x.log.Latest()
	path := fmt.Sprintf("/log/tile/entries/000.p/%d", cp.Size)
	req, _ := http.NewRequest("GET", x.srv.URL+path, nil)
	req.Header.Set("Accept-Encoding", "gzip")
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q", res.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(zr)
	plain := x.do("GET", path, "", nil) // Go's client asks for gzip and undoes it itself
	if string(got) != string(plain.body) || len(got) == 0 {
		t.Fatal("the compressed bundle differs from the plain one")
	}
}
