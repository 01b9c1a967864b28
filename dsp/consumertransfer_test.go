package dsp_test

// The consumer's side of transfers (ConsumerTransfers) over a real SQLite store, a
// real blob store and real HTTP: a provider connector with a data endpoint
// (httptest) and dataport's callback endpoints (httptest over the service's
// handlers). The running server's scenarios are in the api package
// (dsp_consumer_transfer_test.go); these test the pull itself: a manifest's files, a
// foreign endpoint's body, retries, a restart that pulls what is missing, and a pull
// resumed after the process stopped.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/blob"
	"github.com/dataport/dataport/delivery"
	"github.com/dataport/dataport/dsp"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
)

// ctWorld is an exchange with a buyer, a peer whose connector is the provider, and
// a FINALIZED consumer negotiation between them.
type ctWorld struct {
	t           *testing.T
	db          *store.DB
	blobs       blob.Store
	peers       *dsp.Peers
	sealer      *dsp.Sealer
	buyer       dataport.Actor
	peerKey     string // the API key the exchange issued to the peer (its callbacks)
	negotiation string
	provider    *ctProvider
	callback    *httptest.Server
	svc         *dsp.ConsumerTransfers
}

// ctProvider is the provider connector: its transfer endpoints and a data endpoint
// that serves a manifest and its files to the token it issued.
type ctProvider struct {
	srv      *httptest.Server
	got      chan dsp.Message
	token    string
	files    map[string][]byte // served content by path
	manifest []delivery.File   // what the manifest says (nil: the endpoint serves "raw" as data)
	raw      []byte
	failures atomic.Int32 // answer this many data requests 503 first
	hold     chan struct{}
	mu       sync.Mutex
	fetched  []string
}

const ctProviderToken = "token-the-provider-issued-to-the-exchange"

func newCTProvider(t *testing.T) *ctProvider {
	p := &ctProvider{got: make(chan dsp.Message, 16), token: "pull-token-1", files: map[string][]byte{}}
	mux := http.NewServeMux()
	decode := func(w http.ResponseWriter, r *http.Request, m dsp.Message) bool {
		if r.Header.Get("Authorization") != "Bearer "+ctProviderToken {
			t.Errorf("the consumer's %s came with Authorization %q", m.MessageKind(), r.Header.Get("Authorization"))
		}
		raw, _ := io.ReadAll(r.Body)
		if err := dsp.Decode(raw, m); err != nil {
			t.Errorf("the consumer's %s does not validate: %v\n%s", m.MessageKind(), err, raw)
			w.WriteHeader(http.StatusBadRequest)
			return false
		}
		p.got <- m
		return true
	}
	mux.HandleFunc("POST /dsp/transfers/request", func(w http.ResponseWriter, r *http.Request) {
		var m dsp.TransferRequestMessage
		if decode(w, r, &m) {
			dsp.WriteMessage(w, http.StatusCreated, &dsp.TransferProcess{ProviderPID: "urn:uuid:provider-transfer", ConsumerPID: m.ConsumerPID, State: dsp.TransferRequested})
		}
	})
	for _, path := range []string{"start", "completion", "suspension", "termination"} {
		mux.HandleFunc("POST /dsp/transfers/{pid}/"+path, func(w http.ResponseWriter, r *http.Request) {
			m := map[string]dsp.Message{"start": &dsp.TransferStartMessage{}, "completion": &dsp.TransferCompletionMessage{},
				"suspension": &dsp.TransferSuspensionMessage{}, "termination": &dsp.TransferTerminationMessage{}}[path]
			if decode(w, r, m) {
				w.WriteHeader(http.StatusOK)
			}
		})
	}
	data := func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.fetched = append(p.fetched, r.URL.Path)
		token, hold := p.token, p.hold
		p.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if p.failures.Add(-1) >= 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if hold != nil {
			select {
			case <-hold:
			case <-r.Context().Done():
				return
			}
		}
		path := strings.TrimPrefix(r.URL.Path, "/data/t1")
		if path == "" {
			if p.manifest == nil {
				w.Header().Set("Content-Type", "text/csv")
				w.Write(p.raw)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(delivery.Manifest{ProductID: "prd_x", Revision: 1, Files: p.manifest})
			return
		}
		b, ok := p.files[strings.TrimPrefix(path, "/")]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Write(b)
	}
	mux.HandleFunc("GET /data/t1", data)
	mux.HandleFunc("GET /data/t1/{path...}", data)
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// serve makes the provider's data endpoint serve files (path, content) under a manifest.
func (p *ctProvider) serve(files ...string) {
	p.manifest = []delivery.File{}
	for i := 0; i+1 < len(files); i += 2 {
		sum := sha256.Sum256([]byte(files[i+1]))
		p.files[files[i]] = []byte(files[i+1])
		p.manifest = append(p.manifest, delivery.File{Path: files[i], SHA256: hex.EncodeToString(sum[:]), Size: int64(len(files[i+1])), MediaType: "text/csv"})
	}
}

func (p *ctProvider) next(t *testing.T) dsp.Message {
	t.Helper()
	select {
	case m := <-p.got:
		return m
	case <-time.After(30 * time.Second):
		t.Fatal("the consumer sent the provider nothing")
		return nil
	}
}

func newCTWorld(t *testing.T) *ctWorld { return newCTWorldOn(t, store.SQLite) }

func newCTWorldOn(t *testing.T, engine store.Engine) *ctWorld {
	ctx := context.Background()
	db := storetest.Open(t, engine, store.Options{})
	reg := registry.New(db)
	_, opToken, _, err := reg.Bootstrap(ctx, registry.OperatorIdentity{LegalName: dataport.Bilingual{Zh: "测试数据交易所", En: "Test Exchange"}})
	if err != nil {
		t.Fatal(err)
	}
	operator, err := reg.Authenticate(ctx, opToken)
	if err != nil {
		t.Fatal(err)
	}
	buyerP, err := reg.CreateParticipant(ctx, operator, registry.NewParticipant{LegalName: dataport.Bilingual{Zh: "深圳市腾讯计算机系统有限公司", En: "Buyer Ltd"}, Jurisdiction: "CN",
		Kind: registry.Domestic, USCC: "9144030071526726XG", Roles: []dataport.Role{dataport.RoleBuyer}})
	if err != nil {
		t.Fatal(err)
	}
	peerP, err := reg.CreateParticipant(ctx, operator, registry.NewParticipant{LegalName: dataport.Bilingual{En: "Nordhav Energy Data AS"}, Jurisdiction: "NO",
		Kind: registry.Foreign, RegistrationNumber: "923 456 781", Roles: []dataport.Role{dataport.RoleSupplier}})
	if err != nil {
		t.Fatal(err)
	}
	_, buyerToken, err := reg.IssueKey(ctx, buyerP.ID, registry.NewAPIKey{Name: "buyer"})
	if err != nil {
		t.Fatal(err)
	}
	buyer, err := reg.Authenticate(ctx, buyerToken)
	if err != nil {
		t.Fatal(err)
	}
	_, peerKey, err := reg.IssueKey(ctx, peerP.ID, registry.NewAPIKey{Name: "connector"})
	if err != nil {
		t.Fatal(err)
	}
	key := bytes.Repeat([]byte{9}, 32)
	peers, err := dsp.NewPeers(db, key)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := dsp.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := blob.OpenFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	w := &ctWorld{t: t, db: db, blobs: blobs, peers: peers, sealer: sealer, buyer: buyer, peerKey: peerKey, provider: newCTProvider(t)}
	if _, _, err := peers.Register(ctx, operator, dsp.NewPeer{ParticipantID: peerP.ID, Address: w.provider.srv.URL + "/dsp", Token: ctProviderToken}); err != nil {
		t.Fatal(err)
	}
	w.negotiation = "cng_test"
	err = db.Write(ctx, func(tx *store.Tx) error {
		now := store.FormatTime(tx.Now())
		if _, err := tx.Exec(`INSERT INTO dsp_consumer_negotiations (id, consumer_pid, provider_pid, peer_id, buyer_id, dataset_id, offer, agreement, agreement_id, state, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, '{}', '{}', $7, 'FINALIZED', $8, $8)`, w.negotiation, "urn:dataport:consumer-negotiation:test", "urn:uuid:provider-negotiation",
			peerP.ID, buyerP.ID, "urn:uuid:dataset", "urn:uuid:agreement", now); err != nil {
			return err
		}
		_, err := ledger.File(tx, dataport.System, ledger.Change{Type: "test.negotiation_finalized", Subjects: []string{w.negotiation}, Payload: map[string]any{}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	w.svc = w.service(reg)
	t.Cleanup(w.svc.Close)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /dsp/callback/transfers/{consumerPid}/start", func(rw http.ResponseWriter, r *http.Request) { w.svc.ServeStart(rw, r) })
	mux.HandleFunc("POST /dsp/callback/transfers/{consumerPid}/completion", func(rw http.ResponseWriter, r *http.Request) { w.svc.ServeCompletion(rw, r) })
	mux.HandleFunc("POST /dsp/callback/transfers/{consumerPid}/suspension", func(rw http.ResponseWriter, r *http.Request) { w.svc.ServeSuspension(rw, r) })
	mux.HandleFunc("POST /dsp/callback/transfers/{consumerPid}/termination", func(rw http.ResponseWriter, r *http.Request) { w.svc.ServeTermination(rw, r) })
	w.callback = httptest.NewServer(mux)
	t.Cleanup(w.callback.Close)
	return w
}

// service is a consumer transfer service over the world, as a process starting anew
// would make it.
func (w *ctWorld) service(reg *registry.Service) *dsp.ConsumerTransfers {
	return &dsp.ConsumerTransfers{Auth: dsp.APIKeys{Keys: reg}, DB: w.db, Blobs: w.blobs, Client: &dsp.Client{}, Peers: w.peers,
		Sealer: w.sealer, Attempts: 4, Backoff: 10 * time.Millisecond}
}

// request asks for the negotiation's data and returns the transfer.
func (w *ctWorld) request() dsp.ConsumerTransfer {
	w.t.Helper()
	tr, err := w.svc.Request(context.Background(), w.buyer, dsp.NewConsumerTransfer{NegotiationID: w.negotiation}, w.callback.URL+"/dsp/callback")
	if err != nil {
		w.t.Fatal(err)
	}
	req := w.provider.next(w.t).(*dsp.TransferRequestMessage)
	if req.ConsumerPID != tr.ConsumerPID || req.AgreementID != "urn:uuid:agreement" || req.Format != dsp.FormatPull || req.CallbackAddress != w.callback.URL+"/dsp/callback" {
		w.t.Fatalf("request %+v for %+v", req, tr)
	}
	return tr
}

// post sends the provider's message to the consumer's callback and returns the status.
func (w *ctWorld) post(tr dsp.ConsumerTransfer, path string, m dsp.Message) int {
	w.t.Helper()
	raw, err := dsp.Encode(m)
	if err != nil {
		w.t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, w.callback.URL+"/dsp/callback/transfers/"+tr.ConsumerPID+"/"+path, bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+w.peerKey)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func (w *ctWorld) start(tr dsp.ConsumerTransfer, token string) {
	w.t.Helper()
	addr := &dsp.DataAddress{EndpointType: dsp.EndpointTypeHTTP, Endpoint: w.provider.srv.URL + "/data/t1",
		EndpointProperties: []dsp.EndpointProperty{{Name: "authorization", Value: token}, {Name: "authType", Value: "bearer"}}}
	if s := w.post(tr, "start", &dsp.TransferStartMessage{ProviderPID: tr.ProviderPID, ConsumerPID: tr.ConsumerPID, DataAddress: addr}); s != http.StatusOK {
		w.t.Fatalf("start: %d", s)
	}
}

// await waits until the transfer's pull is in state want.
func (w *ctWorld) await(id, want string) dsp.ConsumerTransfer {
	w.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		tr, err := w.svc.Get(context.Background(), w.buyer, id)
		if err != nil {
			w.t.Fatal(err)
		}
		if tr.PullState == want {
			return tr
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("the pull is %q (%s), never %q", tr.PullState, tr.PullError, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// content reads a pulled file back from the blob store.
func (w *ctWorld) content(tr dsp.ConsumerTransfer, path string) string {
	w.t.Helper()
	f, o, err := w.svc.OpenFile(context.Background(), w.buyer, tr.ID, path)
	if err != nil {
		w.t.Fatal(err)
	}
	defer o.Close()
	b, _ := io.ReadAll(o)
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != f.SHA256 {
		w.t.Fatalf("%s does not hash to %s", path, f.SHA256)
	}
	return string(b)
}

func (w *ctWorld) filings(kind string) int {
	w.t.Helper()
	var n int
	if err := w.db.Read(context.Background(), func(tx *store.Tx) error {
		return tx.QueryRow(`SELECT COUNT(*) FROM filings WHERE type = $1`, kind).Scan(&n)
	}); err != nil {
		w.t.Fatal(err)
	}
	return n
}

// On both engines: the pull's queries are the store's only consumer-transfer SQL that
// the api tests (SQLite) do not run on PostgreSQL.
func TestConsumerTransferPullsTheManifestsFiles(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) { testPullsTheManifestsFiles(t, newCTWorldOn(t, engine)) })
}

func testPullsTheManifestsFiles(t *testing.T, w *ctWorld) {
	w.provider.serve("2024/ports.csv", "port,teu\nShanghai,49000000\n", "readme.txt", "Port throughput, 2024.")
	w.provider.failures.Store(2) // two transient failures first: retried
	tr := w.request()
	w.start(tr, "pull-token-1")
	tr = w.await(tr.ID, dsp.PullPulled)
	if len(tr.Files) != 2 || tr.Files[0].Path != "2024/ports.csv" || tr.Files[1].Path != "readme.txt" || tr.State != dsp.TransferStarted {
		t.Fatalf("pulled %+v", tr)
	}
	if got := w.content(tr, "2024/ports.csv"); got != "port,teu\nShanghai,49000000\n" {
		t.Fatalf("content %q", got)
	}
	if w.filings("dsp.consumer_transfer_file_pulled") != 2 || w.filings("dsp.consumer_transfer_pulled") != 1 {
		t.Fatal("the pull was not filed")
	}
	if all, err := w.svc.List(context.Background(), w.buyer); err != nil || len(all) != 1 || all[0].ID != tr.ID {
		t.Fatalf("list %+v (%v)", all, err)
	}
	// Interrupted now, nothing is resumed: the pull is done.
	if err := w.svc.Resume(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The data address is sealed at rest: the token appears nowhere in the row.
	var row string
	w.db.Read(context.Background(), func(tx *store.Tx) error {
		return tx.QueryRow(`SELECT data_address FROM dsp_consumer_transfers WHERE id = $1`, tr.ID).Scan(&row)
	})
	if row == "" || strings.Contains(row, "pull-token-1") || strings.Contains(row, "endpoint") {
		t.Fatalf("data address at rest: %q", row)
	}
}

func TestConsumerTransferPullsAForeignEndpointsBody(t *testing.T) {
	w := newCTWorld(t)
	w.provider.raw = []byte("a,b\n1,2\n")
	tr := w.request()
	w.start(tr, "pull-token-1")
	tr = w.await(tr.ID, dsp.PullPulled)
	if len(tr.Files) != 1 || tr.Files[0].Path != dsp.DataFileName || tr.Files[0].MediaType != "text/csv" || w.content(tr, dsp.DataFileName) != "a,b\n1,2\n" {
		t.Fatalf("pulled %+v", tr.Files)
	}
}

// A refused token fails the pull without retrying; a restart with a new address pulls
// what is missing, and only that.
func TestConsumerTransferRestartPullsWhatIsMissing(t *testing.T) {
	w := newCTWorld(t)
	w.provider.serve("a.csv", "a", "b.csv", "bb")
	tr := w.request()
	w.start(tr, "a-token-the-provider-never-issued")
	tr = w.await(tr.ID, dsp.PullFailed)
	if !strings.Contains(tr.PullError, "401") || len(tr.Files) != 0 {
		t.Fatalf("failed pull %+v", tr)
	}
	if s := w.post(tr, "suspension", &dsp.TransferSuspensionMessage{ProviderPID: tr.ProviderPID, ConsumerPID: tr.ConsumerPID}); s != http.StatusOK {
		t.Fatalf("suspension: %d", s)
	}
	// Half of it is pulled under the first good address.
	w.provider.mu.Lock()
	w.provider.token = "pull-token-2"
	w.provider.mu.Unlock()
	w.provider.serve("a.csv", "a")
	w.start(tr, "pull-token-2")
	tr = w.await(tr.ID, dsp.PullPulled)
	if len(tr.Files) != 1 {
		t.Fatalf("files %+v", tr.Files)
	}
	w.post(tr, "suspension", &dsp.TransferSuspensionMessage{ProviderPID: tr.ProviderPID, ConsumerPID: tr.ConsumerPID})
	w.provider.serve("a.csv", "a", "b.csv", "bb")
	w.provider.mu.Lock()
	w.provider.token, w.provider.fetched = "pull-token-3", nil
	w.provider.mu.Unlock()
	w.start(tr, "pull-token-3")
	tr = w.await(tr.ID, dsp.PullPulled)
	if len(tr.Files) != 2 || w.content(tr, "b.csv") != "bb" {
		t.Fatalf("files %+v", tr.Files)
	}
	w.provider.mu.Lock()
	defer w.provider.mu.Unlock()
	if strings.Join(w.provider.fetched, " ") != "/data/t1 /data/t1/b.csv" {
		t.Fatalf("fetched %v: a.csv again?", w.provider.fetched)
	}
}

// A pull the process's end interrupted is resumed at the next start.
func TestConsumerTransferPullResumesAfterRestart(t *testing.T) {
	w := newCTWorld(t)
	w.provider.serve("big.csv", "x,y\n")
	w.provider.hold = make(chan struct{}) // the data endpoint answers only once released
	tr := w.request()
	w.start(tr, "pull-token-1")
	w.svc.Close() // the process stops mid-pull
	if tr = w.await(tr.ID, dsp.PullPulling); len(tr.Files) != 0 {
		t.Fatalf("files %+v", tr.Files)
	}
	close(w.provider.hold)
	reg := registry.New(w.db)
	w.svc = w.service(reg)
	t.Cleanup(w.svc.Close)
	if err := w.svc.Resume(context.Background()); err != nil {
		t.Fatal(err)
	}
	if tr = w.await(tr.ID, dsp.PullPulled); len(tr.Files) != 1 || w.content(tr, "big.csv") != "x,y\n" {
		t.Fatalf("resumed pull %+v", tr)
	}
}

// With AutoComplete the exchange completes a transfer once its data is pulled.
func TestConsumerTransferAutoComplete(t *testing.T) {
	w := newCTWorld(t)
	w.svc.AutoComplete = true
	w.provider.serve("a.csv", "a")
	tr := w.request()
	w.start(tr, "pull-token-1")
	m := w.provider.next(t).(*dsp.TransferCompletionMessage)
	if m.ProviderPID != tr.ProviderPID || m.ConsumerPID != tr.ConsumerPID {
		t.Fatalf("completion %+v", m)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := w.svc.Get(context.Background(), w.buyer, tr.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State == dsp.TransferCompleted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("state %s", got.State)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
