package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/api"
	"github.com/dataport/dataport/delivery"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
	"github.com/dataport/dataport/trade"
	"github.com/dataport/dataport/trade/tradetest"
)

// The supplier uploads a revision's file in resumable chunks and seals it; a buyer
// without an entitlement is refused, the buyer with one downloads, breaks off,
// resumes with Range, and gets bytes whose SHA-256 is the manifest's; a signed
// link works without a key until it is changed.
func TestDeliveryEndpoints(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		ctx := context.Background()
		w := tradetest.New(t, engine)
		staging := t.TempDir()
		svc, err := delivery.New(w.DB, w.Reg, w.Blobs, w.Deals, delivery.Options{StagingDir: staging, LinkKey: bytes.Repeat([]byte{9}, 32)})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(api.NewServer(api.Deps{DB: w.DB, Registry: w.Reg, Catalog: w.Cat, Compliance: w.Rules, Trade: w.Deals,
			Delivery: svc, Filings: ledger.NewReader(w.DB), Log: w.Log, Version: "test"}))
		defer srv.Close()
		x := &exchange{t: t, db: w.DB, reg: w.Reg, log: w.Log, srv: srv}
		key := func(a dataport.Actor) string {
			_, token, err := w.Reg.IssueKey(ctx, a.ParticipantID, registry.NewAPIKey{Name: "test", Roles: a.Roles})
			if err != nil {
				t.Fatal(err)
			}
			return token
		}
		supplier, buyer, other := key(w.Supplier), key(w.Buyer), key(w.Abroad)

		content := make([]byte, 32<<20+11) // larger than what loopback buffers in the kernel
		rand.Read(content)
		h := sha256.Sum256(content)
		sum := hex.EncodeToString(h[:])
		rev := fmt.Sprint(w.Product.ListedRevision)
		base := "/api/v1/products/" + w.Product.ID + "/revisions/" + rev

		wantProblem(t, x.do("POST", base+"/uploads", supplier, map[string]any{"path": "../x", "size": 1}), http.StatusBadRequest, "path")
		r := x.do("POST", base+"/uploads", supplier, map[string]any{"path": "freight/rates.bin", "size": len(content), "sha256": sum})
		wantStatus(t, r, http.StatusCreated)
		up := r.json(t)["id"].(string)
		// Two chunks; the second first sent at the wrong offset.
		wantStatus(t, x.upload("PATCH", "/api/v1/uploads/"+up, supplier, "application/octet-stream", content[:3<<20], "Upload-Offset", "0"), http.StatusOK)
		p := wantProblem(t, x.upload("PATCH", "/api/v1/uploads/"+up, supplier, "application/octet-stream", content[3<<20:], "Upload-Offset", "0"), http.StatusConflict, "")
		if !strings.Contains(p["detail"].(string), fmt.Sprint(3<<20)) {
			t.Fatalf("409 does not say where to resume: %v", p)
		}
		r = x.do("GET", "/api/v1/uploads/"+up, supplier, nil)
		if r.header.Get("Upload-Offset") != fmt.Sprint(3<<20) {
			t.Fatalf("Upload-Offset %q", r.header.Get("Upload-Offset"))
		}
		r = x.upload("PATCH", "/api/v1/uploads/"+up, supplier, "application/octet-stream", content[3<<20:], "Upload-Offset", fmt.Sprint(3<<20))
		wantStatus(t, r, http.StatusOK)
		if f, _ := r.json(t)["file"].(map[string]any); f == nil || f["sha256"] != sum {
			t.Fatalf("completed upload: %s", r.body)
		}
		wantStatus(t, x.upload("PUT", base+"/files?path=README.md", supplier, "text/markdown", []byte("# 运价\n")), http.StatusOK)
		r = x.do("POST", base+"/manifest", supplier, nil)
		wantStatus(t, r, http.StatusCreated)
		var m delivery.Manifest
		json.Unmarshal(r.body, &m)
		if len(m.Files) != 2 || m.MerkleRoot == "" {
			t.Fatalf("manifest %s", r.body)
		}

		d := w.Finalized(ctx, w.Buyer, trade.NewDeal{Scenario: "research", Purpose: "academic", DeliveryMode: "file", Price: 500_000, MaxUses: 5})
		dl := "/api/v1/deals/" + d.ID + "/download?path=freight/rates.bin"
		wantProblem(t, x.do("GET", dl, "", nil), http.StatusUnauthorized, "")
		wantProblem(t, x.do("GET", dl, other, nil), http.StatusNotFound, "")
		// A buyer whose deal is not finalised has no entitlement: 403.
		w.Fund(w.Buyer, 1_000_000)
		pending, err := w.Deals.Request(ctx, w.Buyer, trade.NewDeal{ProductID: w.Product.ID, Scenario: "research", Purpose: "academic", DeliveryMode: "file"})
		if err != nil {
			t.Fatal(err)
		}
		wantProblem(t, x.do("GET", "/api/v1/deals/"+pending.ID+"/download?path=freight/rates.bin", buyer, nil), http.StatusForbidden, "")

		// Download, broken off after 1 MiB by the client.
		req, _ := http.NewRequest("GET", srv.URL+dl, nil)
		req.Header.Set("Authorization", "Bearer "+buyer)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != 200 || res.Header.Get("ETag") != `"`+sum+`"` || res.Header.Get("X-Dataport-Merkle-Root") != m.MerkleRoot {
			t.Fatalf("download: %d %v", res.StatusCode, res.Header)
		}
		got := make([]byte, 1<<20)
		if _, err := io.ReadFull(res.Body, got); err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		// Resume from there, If-Range on the ETag: 206, the rest, no new use.
		r = x.send("GET", dl, buyer, "", nil, "Range", fmt.Sprintf("bytes=%d-", len(got)), "If-Range", `"`+sum+`"`)
		wantStatus(t, r, http.StatusPartialContent)
		whole := append(got, r.body...)
		if hh := sha256.Sum256(whole); hex.EncodeToString(hh[:]) != m.Files[0].SHA256 && hex.EncodeToString(hh[:]) != m.Files[1].SHA256 {
			t.Fatal("the resumed download does not hash to the manifest's SHA-256")
		}
		if !bytes.Equal(whole, content) {
			t.Fatal("the resumed download differs from the upload")
		}
		wantProblem(t, x.send("GET", dl, buyer, "", nil, "Range", fmt.Sprintf("bytes=%d-", len(content)+10)), http.StatusRequestedRangeNotSatisfiable, "")
		ents, _ := w.Deals.Entitlements(ctx, w.Buyer, w.Buyer.ParticipantID)
		if len(ents) != 1 || ents[0].Uses != 1 {
			t.Fatalf("uses after a download and its resumption: %+v", ents)
		}
		r = x.do("GET", "/api/v1/deals/"+d.ID+"/deliveries", buyer, nil)
		if !strings.Contains(string(r.body), `"completed_at"`) {
			t.Fatalf("deliveries: %s", r.body)
		}

		// A signed link: no key needed; changed, it fails.
		r = x.do("POST", "/api/v1/deals/"+d.ID+"/links", buyer, map[string]any{"path": "README.md", "ttl_seconds": 60})
		wantStatus(t, r, http.StatusOK)
		link := r.json(t)["url"].(string)
		r = x.do("GET", link, "", nil)
		if r.status != 200 || string(r.body) != "# 运价\n" {
			t.Fatalf("link download: %d %s", r.status, r.body)
		}
		wantProblem(t, x.do("GET", strings.Replace(link, "README.md", "freight%2Frates.bin", 1), "", nil), http.StatusUnauthorized, "")
		// Both files went out whole: the deal's delivery is confirmed.
		if got, _ := w.Deals.Get(ctx, w.Buyer, d.ID); got.Settled != "released" {
			t.Fatalf("money %s after every file was delivered", got.Settled)
		}
		if s, _ := svc.Staged(); len(s) != 0 {
			t.Fatalf("staging holds %v", s)
		}
	})
}
