package dsp_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/dsp"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
	"github.com/dataport/dataport/trade/tradetest"
)

// A sealed value opens with its key and for its record only; what it holds is not in
// it in clear.
func TestSealer(t *testing.T) {
	s, err := dsp.NewSealer(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	sealed := s.Seal("dp.key_secret.value", "dsp_peers:prt_a")
	if strings.Contains(sealed, "secret") || s.Seal("dp.key_secret.value", "dsp_peers:prt_a") == sealed {
		t.Fatalf("sealed %q: in clear, or without a fresh nonce", sealed)
	}
	if got, err := s.Open(sealed, "dsp_peers:prt_a"); err != nil || got != "dp.key_secret.value" {
		t.Fatalf("open: %q, %v", got, err)
	}
	if _, err := s.Open(sealed, "dsp_peers:prt_b"); err == nil {
		t.Fatal("a sealed value opened for another record")
	}
	other, _ := dsp.NewSealer(bytes.Repeat([]byte{2}, 32))
	if _, err := other.Open(sealed, "dsp_peers:prt_a"); err == nil {
		t.Fatal("a sealed value opened with another key")
	}
	for _, bad := range []string{"", "not base64!", "AAAA"} {
		if _, err := s.Open(bad, "dsp_peers:prt_a"); err == nil {
			t.Fatalf("%q opened", bad)
		}
	}
	if _, err := dsp.NewSealer([]byte("short")); err == nil {
		t.Fatal("a short key")
	}
}

func TestBaseAddress(t *testing.T) {
	for in, want := range map[string]string{
		"https://other.example/dsp":   "https://other.example/dsp",
		"https://other.example/dsp/":  "https://other.example/dsp",
		" http://10.0.0.1:8080/dsp  ": "http://10.0.0.1:8080/dsp",
		"https://other.example":       "https://other.example",
	} {
		if got, err := dsp.BaseAddress("address", in); err != nil || got != want {
			t.Errorf("BaseAddress(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "/dsp", "other.example/dsp", "ftp://other.example/dsp", "https://u:p@other.example/dsp",
		"https://other.example/dsp?page=1", "https://other.example/dsp#x", "https:///dsp"} {
		if _, err := dsp.BaseAddress("address", bad); dataport.KindOf(err) != dataport.KindInvalid || dataport.FieldsOf(err)[0].Field != "address" {
			t.Errorf("BaseAddress(%q): %v", bad, err)
		}
	}
}

// Peers are the operator's: registered (created, then replaced), read, listed,
// removed, each change filed; the token is presented as a Bearer token and never
// read back; without a sealing key, no token can be kept.
func TestPeers(t *testing.T) {
	storetest.ForEachEngine(t, testPeers)
}

func testPeers(t *testing.T, engine store.Engine) {
	ctx := context.Background()
	w := tradetest.New(t, engine)
	peers, err := dsp.NewPeers(w.DB, bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	id := w.Supplier.ParticipantID
	n := dsp.NewPeer{ParticipantID: id, Address: "https://other.example/dsp/", Token: "issued-to-us"}
	if _, _, err := peers.Register(ctx, w.Buyer, n); dataport.KindOf(err) != dataport.KindForbidden {
		t.Fatalf("a buyer registers a peer: %v", err)
	}
	p, created, err := peers.Register(ctx, w.Operator, n)
	if err != nil || !created || p.Address != "https://other.example/dsp" || !p.HasToken {
		t.Fatalf("register: %+v %v %v", p, created, err)
	}
	creds, err := peers.CredentialsFor(ctx, id)
	if err != nil || creds != dsp.BearerToken("issued-to-us") {
		t.Fatalf("credentials %v, %v", creds, err)
	}
	req := httptest.NewRequest(http.MethodPost, "https://other.example/dsp/catalog/request", nil)
	if err := creds.Authorize(req); err != nil || req.Header.Get("Authorization") != "Bearer issued-to-us" {
		t.Fatalf("Authorization %q, %v", req.Header.Get("Authorization"), err)
	}
	n.Token, n.Address = "", "https://moved.example/dsp"
	if p, created, err = peers.Register(ctx, w.Operator, n); err != nil || created || p.HasToken || p.Address != n.Address {
		t.Fatalf("replace: %+v %v %v", p, created, err)
	}
	if creds, err := peers.CredentialsFor(ctx, id); creds != nil || err != nil {
		t.Fatalf("credentials without a token: %v, %v", creds, err)
	}
	if list, err := peers.List(ctx, w.Operator); err != nil || len(list) != 1 || list[0].ParticipantID != id {
		t.Fatalf("list %+v, %v", list, err)
	}
	if _, err := peers.List(ctx, w.Buyer); dataport.KindOf(err) != dataport.KindForbidden {
		t.Fatalf("a buyer lists peers: %v", err)
	}
	if _, _, err := peers.Register(ctx, w.Operator, dsp.NewPeer{ParticipantID: "prt_nosuch", Address: "https://x.example/dsp"}); dataport.KindOf(err) != dataport.KindInvalid {
		t.Fatalf("an unknown participant: %v", err)
	}
	if _, err := peers.Remove(ctx, w.Operator, id); err != nil {
		t.Fatal(err)
	}
	if _, err := peers.Get(ctx, w.Operator, id); dataport.KindOf(err) != dataport.KindNotFound {
		t.Fatalf("removed: %v", err)
	}
	var filed []string
	w.DB.Read(ctx, func(tx *store.Tx) error {
		var err error
		filed, err = tx.Strings(`SELECT type || ' ' || payload FROM filings WHERE type LIKE 'dsp.peer_%' ORDER BY seq`)
		return err
	})
	if len(filed) != 3 || strings.Contains(fmt.Sprint(filed), "issued-to-us") {
		t.Fatalf("filings %v", filed)
	}

	keyless, _ := dsp.NewPeers(w.DB, nil)
	if _, _, err := keyless.Register(ctx, w.Operator, dsp.NewPeer{ParticipantID: id, Address: "https://x.example/dsp", Token: "t"}); dataport.KindOf(err) != dataport.KindUnavailable {
		t.Fatalf("a token without a sealing key: %v", err)
	}
	if _, _, err := keyless.Register(ctx, w.Operator, dsp.NewPeer{ParticipantID: id, Address: "https://x.example/dsp"}); err != nil {
		t.Fatalf("a peer without a token, without a sealing key: %v", err)
	}
}

// A catalog page is asked with the peer's credentials, its Link header read for the
// next page (relative or absolute, among other relations), and a page at another
// origin is not asked.
func TestCatalogPage(t *testing.T) {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer peer-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var m dsp.CatalogRequestMessage
		if err := dsp.ReadMessage(r, &m); err != nil {
			t.Errorf("request: %v", err)
		}
		switch r.URL.Query().Get("page") {
		case "":
			w.Header().Add("Link", `</dsp/catalog/request?page=0>; rel="prev previous"`)
			w.Header().Add("Link", `</dsp/catalog/request?page=2>; rel="next"`)
		case "2":
			w.Header().Add("Link", `<https://elsewhere.example/dsp/catalog/request?page=3>; rel="next"`)
		}
		if err := dsp.WriteMessage(w, http.StatusOK, &dsp.Catalog{ID: "urn:kit:catalog", ParticipantID: "did:web:kit.example"}); err != nil {
			t.Errorf("catalog: %v", err)
		}
	}))
	defer srv.Close()
	c := &dsp.Client{Credentials: dsp.BearerToken("peer-token")}
	base := srv.URL + "/dsp"
	cat, next, err := dsp.CatalogPage(context.Background(), c, base, base+"/catalog/request")
	if err != nil || cat.ID != "urn:kit:catalog" || next != srv.URL+"/dsp/catalog/request?page=2" {
		t.Fatalf("page 1: %+v %q %v", cat, next, err)
	}
	if _, _, err := dsp.CatalogPage(context.Background(), c, base, next); err == nil || !strings.Contains(err.Error(), "origin") {
		t.Fatalf("a next page at another origin: %v", err)
	}
	if _, _, err := dsp.CatalogPage(context.Background(), c, base, "https://elsewhere.example/dsp/catalog/request"); err == nil {
		t.Fatal("a page at another origin was asked")
	}
	if _, _, err := dsp.CatalogPage(context.Background(), &dsp.Client{}, base, base+"/catalog/request"); dataport.KindOf(err) != dataport.KindUnauthorized {
		t.Fatalf("without the token: %v", err)
	}
}
