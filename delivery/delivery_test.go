package delivery_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/delivery"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
	"github.com/dataport/dataport/trade"
	"github.com/dataport/dataport/trade/tradetest"
)

type fixture struct {
	*tradetest.World
	svc     *delivery.Service
	staging string
}

func setup(t *testing.T, engine store.Engine) *fixture {
	w := tradetest.New(t, engine)
	staging := t.TempDir()
	svc, err := delivery.New(w.DB, w.Reg, w.Blobs, w.Deals, delivery.Options{StagingDir: staging, LinkKey: bytes.Repeat([]byte{7}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{World: w, svc: svc, staging: staging}
}

func is(t *testing.T, err error, k dataport.Kind, says string) {
	t.Helper()
	if err == nil || dataport.KindOf(err) != k || !strings.Contains(err.Error(), says) {
		t.Fatalf("err = %v, want %s saying %q", err, k, says)
	}
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// breaking yields its content and then fails, as a dropped connection does.
type breaking struct{ r io.Reader }

func (b *breaking) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		return n, errors.New("connection reset by peer")
	}
	return n, err
}

// upload sends content to a new upload of path in one chunk.
func (f *fixture) upload(path string, content []byte) delivery.File {
	f.T.Helper()
	ctx := context.Background()
	u, err := f.svc.StartUpload(ctx, f.Supplier, f.Product.ID, f.Product.ListedRevision, delivery.NewUpload{Path: path, Size: int64(len(content)), SHA256: sum(content)})
	if err != nil {
		f.T.Fatal(err)
	}
	_, file, err := f.svc.WriteChunk(ctx, f.Supplier, u.ID, 0, bytes.NewReader(content))
	if err != nil || file == nil {
		f.T.Fatalf("upload %s: %v, %v", path, file, err)
	}
	return *file
}

func (f *fixture) noStaged() {
	f.T.Helper()
	if s, err := f.svc.Staged(); err != nil || len(s) > 0 {
		f.T.Fatalf("staging folder holds %v (%v)", s, err)
	}
}

// An upload broken off mid-way keeps what arrived and resumes from there; a chunk
// at the wrong offset, one past the declared size and a wrong declared hash are
// refused, and nothing half-done is left behind.
func TestResumableUpload(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		f := setup(t, engine)
		ctx := context.Background()
		content := random(3<<20 + 17)
		rev := f.Product.ListedRevision
		for _, bad := range []delivery.NewUpload{
			{Path: "../etc/passwd", Size: 1}, {Path: "/abs", Size: 1}, {Path: "a//b", Size: 1}, {Path: "a\\b", Size: 1},
			{Path: "ok.csv", Size: -1}, {Path: "ok.csv", Size: 1, SHA256: "XYZ"}, {Path: "ok.csv", Size: 1, MediaType: "not a type"},
		} {
			_, err := f.svc.StartUpload(ctx, f.Supplier, f.Product.ID, rev, bad)
			if dataport.KindOf(err) != dataport.KindInvalid {
				t.Fatalf("%+v: err = %v, want invalid", bad, err)
			}
		}
		_, err := f.svc.StartUpload(ctx, f.Buyer, f.Product.ID, rev, delivery.NewUpload{Path: "x.csv", Size: 1})
		is(t, err, dataport.KindNotFound, "no product")

		u, err := f.svc.StartUpload(ctx, f.Supplier, f.Product.ID, rev, delivery.NewUpload{Path: "data/rates 2026.csv", Size: int64(len(content)), SHA256: sum(content), MediaType: "text/csv"})
		if err != nil {
			t.Fatal(err)
		}
		half := 1<<20 + 3
		u, file, err := f.svc.WriteChunk(ctx, f.Supplier, u.ID, 0, &breaking{bytes.NewReader(content[:half])})
		is(t, err, dataport.KindInvalid, "broke off")
		if file != nil || u.Received != int64(half) {
			t.Fatalf("after a broken chunk: received %d, file %v", u.Received, file)
		}
		if got, _ := f.svc.GetUpload(ctx, f.Supplier, u.ID); got.Received != int64(half) || got.State != "open" {
			t.Fatalf("upload = %+v", got)
		}
		_, _, err = f.svc.WriteChunk(ctx, f.Supplier, u.ID, 0, bytes.NewReader(content))
		is(t, err, dataport.KindConflict, "from offset 1048579")
		_, _, err = f.svc.WriteChunk(ctx, f.Supplier, u.ID, int64(half), bytes.NewReader(append(content[half:], 'x')))
		is(t, err, dataport.KindInvalid, "more bytes than")
		_, _, err = f.svc.WriteChunk(ctx, f.Buyer, u.ID, int64(half), bytes.NewReader(content[half:]))
		is(t, err, dataport.KindNotFound, "no upload")
		u, file, err = f.svc.WriteChunk(ctx, f.Supplier, u.ID, int64(half), bytes.NewReader(content[half:]))
		if err != nil || file == nil || u.State != "complete" {
			t.Fatalf("resumed: %+v %v %v", u, file, err)
		}
		if file.SHA256 != sum(content) || file.Size != int64(len(content)) {
			t.Fatalf("file = %+v", file)
		}
		f.noStaged()

		// A wrong declared hash aborts the upload: no file, nothing staged.
		other := random(1000)
		u2, err := f.svc.StartUpload(ctx, f.Supplier, f.Product.ID, rev, delivery.NewUpload{Path: "wrong.bin", Size: 1000, SHA256: sum(content)})
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = f.svc.WriteChunk(ctx, f.Supplier, u2.ID, 0, bytes.NewReader(other))
		is(t, err, dataport.KindInvalid, "not the declared")
		files, err := f.svc.Files(ctx, f.Supplier, f.Product.ID, rev)
		if err != nil || len(files) != 1 || files[0].Path != "data/rates 2026.csv" {
			t.Fatalf("files = %+v, %v", files, err)
		}
		f.noStaged()

		// Seal: the manifest's root covers every file; proofs check; the revision is fixed.
		f.upload("README.txt", []byte("集装箱运价指数 weekly\n"))
		open, err := f.svc.StartUpload(ctx, f.Supplier, f.Product.ID, rev, delivery.NewUpload{Path: "later.bin", Size: 10})
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.Seal(ctx, f.Supplier, f.Product.ID, rev)
		is(t, err, dataport.KindConflict, "still open")
		if _, err := f.svc.AbortUpload(ctx, f.Supplier, open.ID); err != nil {
			t.Fatal(err)
		}
		f.noStaged()
		m, err := f.svc.Seal(ctx, f.Supplier, f.Product.ID, rev)
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Files) != 2 || m.FilingSeq == 0 || m.Files[0].Path != "README.txt" {
			t.Fatalf("manifest = %+v", m)
		}
		root, _ := hex.DecodeString(m.MerkleRoot)
		for _, file := range m.Files {
			p, ok := m.Prove(file.Path)
			if !ok {
				t.Fatal(file.Path)
			}
			var proof [][]byte
			for _, h := range p.Proof {
				b, _ := hex.DecodeString(h)
				proof = append(proof, b)
			}
			if err := ledger.CheckInclusion(proof, p.Index, p.Size, ledger.LeafHash(delivery.Leaf(file)), root); err != nil {
				t.Fatalf("%s: %v", file.Path, err)
			}
			if err := ledger.CheckInclusion(proof, p.Index, p.Size, ledger.LeafHash(delivery.Leaf(delivery.File{Path: file.Path, Size: file.Size + 1, SHA256: file.SHA256})), root); err == nil {
				t.Fatal("a proof for another size checks")
			}
		}
		_, err = f.svc.Seal(ctx, f.Supplier, f.Product.ID, rev)
		is(t, err, dataport.KindConflict, "sealed")
		_, err = f.svc.StartUpload(ctx, f.Supplier, f.Product.ID, rev, delivery.NewUpload{Path: "late.csv", Size: 1})
		is(t, err, dataport.KindConflict, "sealed")
		got, err := f.svc.Manifest(ctx, f.Buyer, f.Product.ID, rev)
		if err != nil || got.MerkleRoot != m.MerkleRoot || got.SHA256 != m.SHA256 {
			t.Fatalf("manifest as a buyer sees it: %+v, %v; sealed %s %s", got, err, m.MerkleRoot, m.SHA256)
		}
		filing, err := ledgerFiling(f, m.FilingSeq)
		if err != nil || !strings.Contains(string(filing.Payload), m.MerkleRoot) || filing.Type != "delivery.manifest_sealed" {
			t.Fatalf("filing = %+v, %v", filing, err)
		}
	})
}

func ledgerFiling(f *fixture, seq int64) (ledger.Filing, error) {
	var out ledger.Filing
	err := f.DB.Read(context.Background(), func(tx *store.Tx) error {
		var err error
		out, err = ledger.Get(tx, seq)
		return err
	})
	return out, err
}

// A buyer downloads under its entitlement: each fresh download counts one use,
// resumed ranges continue it, and once every file went out whole the deal's delivery
// is confirmed and the escrow released. Others are refused.
func TestEntitledDownload(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		f := setup(t, engine)
		ctx := context.Background()
		a, b := random(200_000), []byte("date,rate\n2026-11-20,1843\n")
		f.upload("rates.bin", a)
		f.upload("sample/weekly.csv", b)
		m, err := f.svc.Seal(ctx, f.Supplier, f.Product.ID, f.Product.ListedRevision)
		if err != nil {
			t.Fatal(err)
		}
		d := f.Finalized(ctx, f.Buyer, trade.NewDeal{Scenario: "research", Purpose: "academic", DeliveryMode: "file", Price: 900_000, MaxUses: 3})

		_, err = f.svc.Open(ctx, f.Abroad, d.ID, "rates.bin", delivery.Fresh)
		if k := dataport.KindOf(err); k != dataport.KindNotFound && k != dataport.KindForbidden {
			t.Fatalf("another buyer: %v", err)
		}
		_, err = f.svc.Open(ctx, f.Buyer, d.ID, "nope.bin", delivery.Fresh)
		is(t, err, dataport.KindNotFound, "no nope.bin")
		dm, err := f.svc.DealManifest(ctx, f.Buyer, d.ID)
		if err != nil || dm.MerkleRoot != m.MerkleRoot {
			t.Fatalf("deal manifest %+v, %v", dm, err)
		}

		// First download, read halfway, then resumed: one use.
		dl, err := f.svc.Open(ctx, f.Buyer, d.ID, "rates.bin", delivery.Fresh)
		if err != nil {
			t.Fatal(err)
		}
		first := make([]byte, 1000)
		io.ReadFull(dl, first)
		dl.Close()
		dl2, err := f.svc.Open(ctx, f.Buyer, d.ID, "rates.bin", delivery.Resume)
		if err != nil || dl2.DeliveryID != dl.DeliveryID {
			t.Fatalf("resume: %v, delivery %s want %s", err, dl2.DeliveryID, dl.DeliveryID)
		}
		dl2.Seek(1000, io.SeekStart)
		rest, _ := io.ReadAll(dl2)
		dl2.Close()
		if sum(append(first, rest...)) != dm.Files[0].SHA256 {
			t.Fatal("the resumed download does not match the manifest")
		}
		if err := f.svc.Complete(ctx, f.Buyer, dl2); err != nil {
			t.Fatal(err)
		}
		ents, _ := f.Deals.Entitlements(ctx, f.Buyer, f.Buyer.ParticipantID)
		if len(ents) != 1 || ents[0].Uses != 1 {
			t.Fatalf("entitlements %+v", ents)
		}
		if got, _ := f.Deals.Get(ctx, f.Buyer, d.ID); got.Settled != "held" {
			t.Fatalf("settled %q before every file was delivered", got.Settled)
		}
		// The second file completes the delivery: the escrow is released.
		dl3, err := f.svc.Open(ctx, f.Buyer, d.ID, "sample/weekly.csv", delivery.Fresh)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, dl3)
		dl3.Close()
		if err := f.svc.Complete(ctx, f.Buyer, dl3); err != nil {
			t.Fatal(err)
		}
		if got, _ := f.Deals.Get(ctx, f.Buyer, d.ID); got.Settled != "released" {
			t.Fatalf("settled %q after delivery", got.Settled)
		}
		// One use left: a third fresh download takes it, a fourth is refused.
		if _, err := f.svc.Open(ctx, f.Buyer, d.ID, "rates.bin", delivery.Fresh); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.Open(ctx, f.Buyer, d.ID, "rates.bin", delivery.Fresh)
		is(t, err, dataport.KindForbidden, "all 3 uses")
		ds, err := f.svc.Deliveries(ctx, f.Buyer, d.ID)
		if err != nil || len(ds) != 3 || ds[0].CompletedAt.IsZero() || !ds[2].CompletedAt.IsZero() {
			t.Fatalf("deliveries %+v, %v", ds, err)
		}

		// Links: signed for the buyer, refused when changed or expired.
		link, err := f.svc.MakeLink(ctx, f.Buyer, d.ID, "sample/weekly.csv", 10*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		q, _ := url.ParseQuery(link.Query)
		who, err := f.svc.LinkActor(d.ID, q)
		if err != nil || who.ParticipantID != f.Buyer.ParticipantID {
			t.Fatalf("link actor %+v, %v", who, err)
		}
		_, err = f.svc.LinkActor("deal_other", q)
		is(t, err, dataport.KindUnauthorized, "signature")
		q2, _ := url.ParseQuery(link.Query)
		q2.Set("path", "rates.bin")
		_, err = f.svc.LinkActor(d.ID, q2)
		is(t, err, dataport.KindUnauthorized, "signature")
		f.Clock.Advance(11 * time.Minute)
		_, err = f.svc.LinkActor(d.ID, q)
		is(t, err, dataport.KindUnauthorized, "expired")
		_, err = f.svc.MakeLink(ctx, f.Buyer, d.ID, "sample/weekly.csv", 48*time.Hour)
		is(t, err, dataport.KindInvalid, "24 hours")
		_, err = f.svc.MakeLink(ctx, f.Abroad, d.ID, "sample/weekly.csv", time.Minute)
		if err == nil {
			t.Fatal("a link for another buyer's deal")
		}
	})
}
