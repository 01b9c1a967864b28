package api_test

// The Transfer Process Protocol, dataport the provider (TP), against the running API
// server, a real SQLite store and blob store. The connector (the kit, K) first
// negotiates a deal to FINALIZED through the real negotiation (cnRun), then sends its
// transfer messages to /dsp/transfers; the provider's moves (D) are the supplier's
// REST moves, which the server posts to the kit's callback address: an httptest
// server that decodes and validates each message (dsp.Decode) as the kit would. A
// started pull is pulled through its data address (the manifest, then files, each
// hash checked against the manifest). After every step the state is checked three
// ways: GET /dsp/transfers/{pid}, the row's state, and the state the row says the
// consumer was told.

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
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dataport/dataport/api"
	"github.com/dataport/dataport/delivery"
	"github.com/dataport/dataport/dsp"
	"github.com/dataport/dataport/store"
)

// transferCallback is the connector's callback endpoints for transfers.
type transferCallback = callbackServer

func newTransferCallback(t *testing.T) *transferCallback {
	return newCallbackServer(t, "transfers", map[string]func() dsp.Message{
		"start":       func() dsp.Message { return &dsp.TransferStartMessage{} },
		"completion":  func() dsp.Message { return &dsp.TransferCompletionMessage{} },
		"suspension":  func() dsp.Message { return &dsp.TransferSuspensionMessage{} },
		"termination": func() dsp.Message { return &dsp.TransferTerminationMessage{} },
	})
}

// peerTokens is the tokens the consumers' connectors issued to this exchange, by
// participant: the credentials the provider's callbacks present (dsp.PeerCredentials).
type peerTokens map[string]string

func (p peerTokens) CredentialsFor(_ context.Context, participantID string) (dsp.Credentials, error) {
	if t, ok := p[participantID]; ok {
		return dsp.BearerToken(t), nil
	}
	return nil, nil
}

// tpRun is a transfer of a deal between the connector and the server.
type tpRun struct {
	*cnRun
	tcb       *transferCallback
	files     map[string][]byte // the product's files, by path
	pid, cpid string            // the transfer's provider and consumer pids
	address   *dsp.DataAddress  // the data address of the latest start
	token     string            // and its token
}

// newTPRun is a negotiation ready to be finalized (finalize) for a product whose listed
// revision has two sealed files, served by a server with opts for its transfers.
func newTPRun(t *testing.T, opts api.DSPTransferOptions) *tpRun {
	c := newCNRun(t, func(d *api.Deps) { d.DSPTransfer = opts })
	r := &tpRun{cnRun: c, tcb: newTransferCallback(t), files: map[string][]byte{}, cpid: "urn:uuid:" + dataportTestID(t)}

	// The supplier uploads the listed revision's files and seals them.
	rev := fmt.Sprint(c.do("GET", "/api/v1/products/"+c.product, c.keyA, nil).json(t)["listed_revision"])
	base := "/api/v1/products/" + c.product + "/revisions/" + rev
	r.files["freight/rates.bin"] = make([]byte, 256<<10+3)
	rand.Read(r.files["freight/rates.bin"])
	r.files["README.md"] = []byte("# 运价 Freight rates\n")
	for p, content := range r.files {
		wantStatus(t, c.upload("PUT", base+"/files?path="+url.QueryEscape(p), c.keyA, "application/octet-stream", content), http.StatusOK)
	}
	wantStatus(t, c.do("POST", base+"/manifest", c.keyA, nil), http.StatusCreated)
	c.kRequest()
	return r
}

// finalize runs the negotiation to FINALIZED: the agreement, the consumer's
// verification, the provider's finalisation.
func (r *tpRun) finalize() {
	r.t.Helper()
	r.dAgreement()
	r.kVerification()
	r.dFinalized()
}

// newFinalTPRun is a run whose deal is FINALIZED, its transfers not started by dataport.
func newFinalTPRun(t *testing.T) *tpRun {
	r := newTPRun(t, api.DSPTransferOptions{})
	r.finalize()
	return r
}

func (r *tpRun) request(m *dsp.TransferRequestMessage) response {
	r.t.Helper()
	return r.post("/dsp/transfers/request", m)
}

func (r *tpRun) requestMessage() *dsp.TransferRequestMessage {
	return &dsp.TransferRequestMessage{ConsumerPID: r.cpid, AgreementID: dsp.DealIRIPrefix + r.dealID, Format: dsp.FormatPull,
		CallbackAddress: r.tcb.srv.URL + "/cb"}
}

// wantProcess decodes a TransferProcess answer.
func (r *tpRun) wantProcess(res response, status int, state dsp.TransferState) {
	r.t.Helper()
	wantStatus(r.t, res, status)
	var p dsp.TransferProcess
	if err := dsp.Decode(res.body, &p); err != nil {
		r.t.Fatalf("the answer does not validate as a TransferProcess: %v\n%s", err, res.body)
	}
	if p.ProviderPID != r.pid || p.ConsumerPID != r.cpid || p.State != state {
		r.t.Fatalf("transfer %+v, want %s %s %s", p, r.pid, r.cpid, state)
	}
}

// row is the transfer's row: its state and the state the consumer was told.
func (r *tpRun) row() (state, told string) {
	r.t.Helper()
	err := r.db.Read(context.Background(), func(tx *store.Tx) error {
		return tx.QueryRow(`SELECT state, told FROM dsp_transfers WHERE provider_pid = $1`, r.pid).Scan(&state, &told)
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return state, told
}

// wantTransfer checks the state three ways: GET, the row, and what the row says the
// consumer was told.
func (r *tpRun) wantTransfer(state dsp.TransferState) {
	r.t.Helper()
	r.wantProcess(r.do("GET", "/dsp/transfers/"+r.pid, r.connector, nil), http.StatusOK, state)
	if s, told := r.row(); s != string(state) || told != string(state) {
		r.t.Fatalf("dsp_transfers: state %s, told %s; want %s", s, told, state)
	}
}

// refused checks a 400 with a TransferError (INVALID_STATE_TRANSITION) naming both
// pids, the state unchanged and nothing posted.
func (r *tpRun) refused(res response, state dsp.TransferState) {
	r.t.Helper()
	r.wantTransferError(res, http.StatusBadRequest, dsp.CodeInvalidState)
	r.wantTransfer(state)
	r.tcb.none()
}

func (r *tpRun) wantTransferError(res response, status int, code string) dsp.TransferError {
	r.t.Helper()
	return wantTransferError(r.t, res, status, code, r.pid, r.cpid)
}

// wantTransferError checks an answer of status with a TransferError of code, with
// reasons, naming the transfer's two pids.
func wantTransferError(t testing.TB, res response, status int, code, providerPID, consumerPID string) dsp.TransferError {
	t.Helper()
	wantStatus(t, res, status)
	var e dsp.TransferError
	if err := dsp.Decode(res.body, &e); err != nil {
		t.Fatalf("the error does not validate as a TransferError: %v\n%s", err, res.body)
	}
	if e.Code != code || e.ProviderPID != providerPID || e.ConsumerPID != consumerPID || len(e.Reason) == 0 {
		t.Fatalf("error %+v, want %s for %s %s", e, code, providerPID, consumerPID)
	}
	return e
}

// The connector's moves.

func (r *tpRun) kRequest() {
	r.t.Helper()
	res := r.request(r.requestMessage())
	wantStatus(r.t, res, http.StatusCreated)
	var p dsp.TransferProcess
	if err := dsp.Decode(res.body, &p); err != nil {
		r.t.Fatal(err)
	}
	if p.ConsumerPID != r.cpid || p.State != dsp.TransferRequested || !strings.HasPrefix(p.ProviderPID, dsp.TransferPIDPrefix) {
		r.t.Fatalf("created %+v", p)
	}
	r.pid = p.ProviderPID
	r.wantTransfer(dsp.TransferRequested)
	r.tcb.none()
}

func (r *tpRun) start() response {
	return r.post("/dsp/transfers/"+r.pid+"/start", &dsp.TransferStartMessage{ProviderPID: r.pid, ConsumerPID: r.cpid})
}

func (r *tpRun) completion() response {
	return r.post("/dsp/transfers/"+r.pid+"/completion", &dsp.TransferCompletionMessage{ProviderPID: r.pid, ConsumerPID: r.cpid})
}

func (r *tpRun) suspension() response {
	return r.post("/dsp/transfers/"+r.pid+"/suspension", &dsp.TransferSuspensionMessage{ProviderPID: r.pid, ConsumerPID: r.cpid,
		Code: "PAUSE", Reason: []any{"the kit pauses"}})
}

func (r *tpRun) termination() response {
	return r.post("/dsp/transfers/"+r.pid+"/termination", &dsp.TransferTerminationMessage{ProviderPID: r.pid, ConsumerPID: r.cpid,
		Code: "CONSUMER_ENDED", Reason: []any{"the kit ends the transfer"}})
}

// kMove sends one of the connector's moves, which must succeed, posting nothing.
func (r *tpRun) kMove(send func() response, state dsp.TransferState) {
	r.t.Helper()
	r.wantProcess(send(), http.StatusOK, state)
	r.wantTransfer(state)
	r.tcb.none()
}

func (r *tpRun) kStart()       { r.t.Helper(); r.kMove(r.start, dsp.TransferStarted) }
func (r *tpRun) kSuspension()  { r.t.Helper(); r.kMove(r.suspension, dsp.TransferSuspended) }
func (r *tpRun) kCompletion()  { r.t.Helper(); r.kMove(r.completion, dsp.TransferCompleted) }
func (r *tpRun) kTermination() { r.t.Helper(); r.kMove(r.termination, dsp.TransferTerminated) }

// The provider's moves: the supplier's REST moves, which the server posts to the
// callback.

func (r *tpRun) dMove(path string, body any) map[string]any {
	r.t.Helper()
	res := r.do("POST", "/api/v1/dsp/provider/transfers/"+r.pid+"/"+path, r.keyA, body)
	wantStatus(r.t, res, http.StatusOK)
	return res.json(r.t)
}

// dStart starts the transfer; the start message carries a data address with a new
// token, which the run keeps.
func (r *tpRun) dStart() {
	r.t.Helper()
	r.dMove("start", nil)
	r.wantStart(r.tcb.next())
	r.wantTransfer(dsp.TransferStarted)
}

// wantStart checks a start message and its data address, and keeps both.
func (r *tpRun) wantStart(got received) {
	r.t.Helper()
	m, ok := got.msg.(*dsp.TransferStartMessage)
	if !ok || m.ProviderPID != r.pid || m.ConsumerPID != r.cpid || m.DataAddress == nil {
		r.t.Fatalf("start %+v", got.msg)
	}
	a := m.DataAddress
	token, _ := a.Property("authorization")
	authType, _ := a.Property("authType")
	if a.Type != "DataAddress" || a.EndpointType != dsp.EndpointTypeHTTP || a.Endpoint != r.srv.URL+"/dsp/data/"+url.PathEscape(r.pid) ||
		authType != "bearer" || len(token) != 43 || token == r.token {
		r.t.Fatalf("data address %+v (token %q, the previous %q)", a, token, r.token)
	}
	r.address, r.token = a, token
}

func (r *tpRun) dSuspension() {
	r.t.Helper()
	r.dMove("suspend", map[string]any{"reason": "maintenance of the data plane"})
	m, ok := r.tcb.next().msg.(*dsp.TransferSuspensionMessage)
	if !ok || m.ProviderPID != r.pid || m.ConsumerPID != r.cpid || m.Code != dsp.CodeSuspendedByProvider || fmt.Sprint(m.Reason) != "[maintenance of the data plane]" {
		r.t.Fatalf("suspension %+v", m)
	}
	r.wantTransfer(dsp.TransferSuspended)
}

func (r *tpRun) dCompletion() {
	r.t.Helper()
	r.dMove("complete", nil)
	if m, ok := r.tcb.next().msg.(*dsp.TransferCompletionMessage); !ok || m.ProviderPID != r.pid || m.ConsumerPID != r.cpid {
		r.t.Fatalf("completion %+v", m)
	}
	r.wantTransfer(dsp.TransferCompleted)
}

func (r *tpRun) dTermination() {
	r.t.Helper()
	r.dMove("terminate", map[string]any{"reason": "the supplier withdraws the data"})
	m, ok := r.tcb.next().msg.(*dsp.TransferTerminationMessage)
	if !ok || m.ProviderPID != r.pid || m.ConsumerPID != r.cpid || m.Code != dsp.CodeTerminatedByProvider || len(m.Reason) != 1 {
		r.t.Fatalf("termination %+v", m)
	}
	r.wantTransfer(dsp.TransferTerminated)
}

// The data plane, as the kit pulls.

// get sends a request to the data address (path "" for the manifest) with token.
func (r *tpRun) get(method, path, token string, headers ...string) response {
	r.t.Helper()
	target := r.address.Endpoint
	if path != "" {
		target += "/" + path
	}
	req, err := http.NewRequest(method, target, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// manifest pulls the deal's manifest and checks it lists the product's files.
func (r *tpRun) manifest() delivery.Manifest {
	r.t.Helper()
	res := r.get("GET", "", r.token)
	wantStatus(r.t, res, http.StatusOK)
	if ct := res.header.Get("Content-Type"); ct != "application/json" {
		r.t.Fatalf("manifest Content-Type %q", ct)
	}
	var m delivery.Manifest
	if err := json.Unmarshal(res.body, &m); err != nil {
		r.t.Fatal(err)
	}
	if len(m.Files) != len(r.files) || m.MerkleRoot == "" || m.ProductID != r.product {
		r.t.Fatalf("manifest %s", res.body)
	}
	return m
}

// pull pulls file path through the data address and checks it against the manifest.
func (r *tpRun) pull(path string) {
	r.t.Helper()
	m := r.manifest()
	f, ok := m.File(path)
	if !ok {
		r.t.Fatalf("the manifest has no %s", path)
	}
	res := r.get("GET", path, r.token)
	wantStatus(r.t, res, http.StatusOK)
	sum := sha256.Sum256(res.body)
	if hex.EncodeToString(sum[:]) != f.SHA256 || int64(len(res.body)) != f.Size || res.header.Get("ETag") != `"`+f.SHA256+`"` {
		r.t.Fatalf("%s: %d bytes hashing to %x (ETag %s); the manifest says %+v", path, len(res.body), sum, res.header.Get("ETag"), f)
	}
	if !bytes.Equal(res.body, r.files[path]) {
		r.t.Fatalf("%s differs from what the supplier uploaded", path)
	}
}

// refusedPull checks that the token is refused: 401, a Bearer challenge, no data.
func (r *tpRun) refusedPull(token string) {
	r.t.Helper()
	for _, path := range []string{"", "README.md"} {
		res := r.get("GET", path, token)
		wantStatus(r.t, res, http.StatusUnauthorized)
		if !strings.HasPrefix(res.header.Get("WWW-Authenticate"), "Bearer") || bytes.Contains(res.body, r.files["README.md"]) || bytes.Contains(res.body, []byte("merkle_root")) {
			r.t.Fatalf("refused pull of %q: %v %s", path, res.header, res.body)
		}
	}
}

// deal reads the deal as the connector sees it.
func (r *tpRun) deal() map[string]any {
	r.t.Helper()
	return r.do("GET", "/api/v1/deals/"+r.dealID, r.connector, nil).json(r.t)
}

// wantHeld checks the escrow still holds the price and there is no certificate.
func (r *tpRun) wantHeld() {
	r.t.Helper()
	if d := r.deal(); d["settled"] != "held" || d["state"] != "FINALIZED" {
		r.t.Fatalf("deal %v %v, want FINALIZED with the money held", d["state"], d["settled"])
	}
	wantStatus(r.t, r.do("GET", "/api/v1/deals/"+r.dealID+"/certificate", r.connector, nil), http.StatusNotFound)
}

// wantReleased checks the escrow went to the supplier, less the exchange's fee, and
// the transaction certificate exists.
func (r *tpRun) wantReleased(price float64) {
	r.t.Helper()
	if d := r.deal(); d["settled"] != "released" || d["state"] != "FINALIZED" {
		r.t.Fatalf("deal %v %v, want FINALIZED with the money released", d["state"], d["settled"])
	}
	bs := r.do("GET", "/api/v1/participants/"+r.supplierA+"/balances", r.keyA, nil).json(r.t)["items"].([]any)
	got := 0.0
	for _, b := range bs {
		if b := b.(map[string]any); b["account"] == "supplier:"+r.supplierA {
			got = b["balance"].(map[string]any)["amount"].(float64)
		}
	}
	if want := price - price*100/10000; got != want {
		r.t.Fatalf("the supplier's balance %v, want %v (%v less the 1%% fee)", got, want, price)
	}
	wantStatus(r.t, r.do("GET", "/api/v1/deals/"+r.dealID+"/certificate", r.connector, nil), http.StatusOK)
}

// uses is how many uses of the deal's entitlement were counted.
func (r *tpRun) uses() float64 {
	r.t.Helper()
	res := r.do("GET", "/api/v1/participants/"+r.connectorID+"/entitlements", r.connector, nil)
	wantStatus(r.t, res, http.StatusOK)
	for _, e := range res.json(r.t)["items"].([]any) {
		if e := e.(map[string]any); e["deal_id"] == r.dealID {
			return e["uses"].(float64)
		}
	}
	r.t.Fatalf("no entitlement of deal %s: %s", r.dealID, res.body)
	return 0
}

// TP:01-01: Verify transfer request, provider started, provider terminated.
func TestTCK_TP_01_01(t *testing.T) {
	r := newFinalTPRun(t)
	r.kRequest()
	r.dStart()
	r.pull("freight/rates.bin")
	r.dTermination()
	r.refusedPull(r.token)
	r.wantHeld() // the transfer ends; the deal does not
}

// TP:01-02: Verify transfer request, provider started, provider completed.
func TestTCK_TP_01_02(t *testing.T) {
	r := newFinalTPRun(t)
	r.kRequest()
	r.dStart()
	r.pull("README.md")
	r.dCompletion()
	r.refusedPull(r.token)
	r.wantHeld() // the provider's completion is not the buyer's confirmation
}

// TP:01-03: Verify transfer request, provider started, provider suspended, provider
// terminated.
func TestTCK_TP_01_03(t *testing.T) {
	r := newFinalTPRun(t)
	r.kRequest()
	r.dStart()
	r.pull("README.md")
	r.dSuspension()
	r.refusedPull(r.token)
	r.dTermination()
	r.refusedPull(r.token)
}

// TP:01-04: Verify transfer request, provider started, provider suspended, provider
// started, provider completed.
func TestTCK_TP_01_04(t *testing.T) {
	r := newFinalTPRun(t)
	r.kRequest()
	r.dStart()
	r.pull("README.md")
	r.dSuspension()
	r.refusedPull(r.token)
	old := r.token
	r.dStart() // the restart brings a new token; the old one stays refused
	r.refusedPull(old)
	r.pull("freight/rates.bin")
	r.dCompletion()
	r.refusedPull(r.token)
}

// TP:01-05: Verify transfer request, provider terminated.
func TestTCK_TP_01_05(t *testing.T) {
	r := newFinalTPRun(t)
	r.kRequest()
	r.dTermination()
	r.wantHeld()
}

// TP:02-01: Verify transfer request, provider started, consumer terminated.
func TestTCK_TP_02_01(t *testing.T) {
	r := newFinalTPRun(t)
	r.kRequest()
	r.dStart()
	r.pull("freight/rates.bin")
	r.kTermination()
	r.refusedPull(r.token)
	r.wantHeld()
}

// TP:02-02: Verify transfer request, provider started, consumer completed — the
// consumer's completion confirms the delivery: the escrow is released and the
// certificate issued.
func TestTCK_TP_02_02(t *testing.T) {
	r := newFinalTPRun(t)
	r.kRequest()
	r.dStart()
	r.pull("freight/rates.bin")
	price := r.held()
	r.wantHeld()
	r.kCompletion()
	r.refusedPull(r.token)
	r.wantReleased(price)
	trace := string(r.do("GET", "/api/v1/trace?subject="+r.dealID, r.operator, nil).body)
	for _, f := range []string{"dsp.transfer_requested", "dsp.transfer_moved", "dsp.transfer_token_issued", "dsp.transfer_sent",
		"dsp.transfer_received", "delivery.started", "trade.released", "trade.certified"} {
		if !strings.Contains(trace, f) {
			t.Errorf("the deal's trace has no %s", f)
		}
	}
}

// TP:02-03: Verify transfer request, provider started, consumer suspended, consumer
// terminated.
func TestTCK_TP_02_03(t *testing.T) {
	r := newFinalTPRun(t)
	r.kRequest()
	r.dStart()
	r.pull("README.md")
	r.kSuspension()
	r.refusedPull(r.token)
	r.kTermination()
	r.refusedPull(r.token)
}

// TP:02-04: Verify transfer request, provider started, consumer suspended, consumer
// started, consumer completed — the consumer's restart makes the token it holds work
// again; every file pulled whole already released the escrow, so the completion is
// recorded.
func TestTCK_TP_02_04(t *testing.T) {
	r := newFinalTPRun(t)
	r.kRequest()
	r.dStart()
	price := r.held()
	r.pull("README.md")
	r.kSuspension()
	r.refusedPull(r.token)
	r.kStart()
	r.pull("freight/rates.bin")
	if d := r.deal(); d["settled"] != "released" {
		t.Fatalf("money %v after every file was pulled whole", d["settled"])
	}
	r.kCompletion()
	r.refusedPull(r.token)
	r.wantReleased(price)
}

// TP:02-05: Verify transfer request, consumer terminated.
func TestTCK_TP_02_05(t *testing.T) {
	r := newFinalTPRun(t)
	r.kRequest()
	r.kTermination()
	r.wantHeld()
}

// TP:03-01: Verify transfer request, consumer completed — refused: only a started
// transfer completes.
func TestTCK_TP_03_01(t *testing.T) {
	r := newFinalTPRun(t)
	r.kRequest()
	r.refused(r.completion(), dsp.TransferRequested)
	r.wantHeld()
	r.dStart() // still usable
}

// TP:03-02: Verify transfer request, consumer suspended — refused: only a started
// transfer is suspended.
func TestTCK_TP_03_02(t *testing.T) {
	r := newFinalTPRun(t)
	r.kRequest()
	r.refused(r.suspension(), dsp.TransferRequested)
	r.dStart() // still usable
}

// TP:03-03: Verify transfer request, provider started, consumer suspended, consumer
// completed — refused: a suspended transfer is started again before it completes.
func TestTCK_TP_03_03(t *testing.T) {
	r := newFinalTPRun(t)
	r.kRequest()
	r.dStart()
	r.kSuspension()
	r.refused(r.completion(), dsp.TransferSuspended)
	r.refusedPull(r.token)
	r.wantHeld()
	r.kStart() // still usable
	r.pull("README.md")
	r.kCompletion()
}

// TP:03-04: Verify transfer request, provider started, consumer terminated, consumer
// started — refused: a terminated transfer is over.
func TestTCK_TP_03_04(t *testing.T) {
	r := newFinalTPRun(t)
	r.kRequest()
	r.dStart()
	r.kTermination()
	r.refused(r.start(), dsp.TransferTerminated)
	r.refusedPull(r.token)
}

// TP:03-05: Verify transfer request, provider started, consumer terminated, consumer
// suspended.
func TestTCK_TP_03_05(t *testing.T) {
	r := newFinalTPRun(t)
	r.kRequest()
	r.dStart()
	r.kTermination()
	r.refused(r.suspension(), dsp.TransferTerminated)
	r.refusedPull(r.token)
}

// TP:03-06: Verify transfer request, provider started, consumer terminated, consumer
// completed — refused, and the refused completion confirms nothing.
func TestTCK_TP_03_06(t *testing.T) {
	r := newFinalTPRun(t)
	r.kRequest()
	r.dStart()
	r.kTermination()
	r.refused(r.completion(), dsp.TransferTerminated)
	r.refusedPull(r.token)
	r.wantHeld()
}

// A request that does not name a finalized agreement of the caller's in the format it
// is delivered in is refused with 400, naming the field, and stores nothing.
func TestDSPTransferRequestRefused(t *testing.T) {
	r := newTPRun(t, api.DSPTransferOptions{})
	refused := func(m *dsp.TransferRequestMessage, key, field string) {
		t.Helper()
		body, err := dsp.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		res := r.do("POST", "/dsp/transfers/request", key, body)
		wantStatus(t, res, http.StatusBadRequest)
		var e dsp.TransferError
		if err := dsp.Decode(res.body, &e); err != nil || e.Code != dsp.CodeInvalidMessage || e.ProviderPID != "" || e.ConsumerPID != m.ConsumerPID {
			t.Fatalf("400 body %s (%v)", res.body, err)
		}
		if !strings.Contains(fmt.Sprint(e.Reason), field+":") {
			t.Fatalf("the refusal does not name %s: %v", field, e.Reason)
		}
		if n := r.count("dsp_transfers"); n != 0 {
			t.Fatalf("%d transfers stored after a refused request", n)
		}
	}
	// The deal is AGREED: not final yet.
	r.dAgreement()
	refused(r.requestMessage(), r.connector, "agreementId")
	r.kVerification()
	r.dFinalized()
	// Another buyer's request for the connector's deal.
	_, other := r.createWithKey(with(tencent, "uscc", mustUSCC("91110000MA01ABCD1")))
	refused(r.requestMessage(), other, "agreementId")
	// Not an agreement's @id.
	m := r.requestMessage()
	m.AgreementID = "urn:uuid:not-an-agreement"
	refused(m, r.connector, "agreementId")
	m.AgreementID = dsp.DealIRIPrefix + "deal_nosuch"
	refused(m, r.connector, "agreementId")
	// Formats the deal is not delivered in.
	for _, format := range []string{"dataport-api", "HttpData-PUSH", "AmazonS3-PUSH"} {
		m := r.requestMessage()
		m.Format = format
		refused(m, r.connector, "format")
	}
	// A callback address that is not an absolute http(s) URL; a data address for a pull.
	for _, cb := range []string{"ftp://example.com/cb", "/cb", "https://"} {
		m := r.requestMessage()
		m.CallbackAddress = cb
		refused(m, r.connector, "callbackAddress")
	}
	m = r.requestMessage()
	m.DataAddress = &dsp.DataAddress{EndpointType: dsp.EndpointTypeHTTP, Endpoint: "https://consumer.example/in"}
	refused(m, r.connector, "dataAddress")
	// A body that is not a transfer request.
	res := r.do("POST", "/dsp/transfers/request", r.connector, `{"@context": ["https://w3id.org/dspace/2025/1/context.jsonld"], "@type": "TransferRequestMessage", "consumerPid": "urn:uuid:x"}`)
	wantStatus(t, res, http.StatusBadRequest)

	// The request as it should be; its consumer pid cannot name a second transfer, but
	// the deal may have a second one.
	r.kRequest()
	res = r.request(r.requestMessage())
	wantStatus(t, res, http.StatusBadRequest)
	if !strings.Contains(string(res.body), "consumerPid") {
		t.Fatalf("a reused consumer pid: %s", res.body)
	}
	second := r.requestMessage()
	second.ConsumerPID = "urn:uuid:" + dataportTestID(t)
	wantStatus(t, r.request(second), http.StatusCreated)
	list := r.do("GET", "/api/v1/deals/"+r.dealID+"/dsp-transfers", r.keyA, nil)
	wantStatus(t, list, http.StatusOK)
	if items := list.json(t)["items"].([]any); len(items) != 2 || items[0].(map[string]any)["provider_pid"] != r.pid {
		t.Fatalf("the deal's transfers: %s", list.body)
	}
	r.tcb.none()
}

// Unknown transfers, and another participant's, are not found (404 with a
// TransferError); so are requests without a key that binds to a participant, and a
// caller without the buyer role.
func TestDSPTransferNotFound(t *testing.T) {
	r := newFinalTPRun(t)
	r.kRequest()
	_, other := r.createWithKey(with(tencent, "uscc", mustUSCC("91110000MA01ABCD1")))
	notFound := func(res response) {
		t.Helper()
		wantStatus(t, res, http.StatusNotFound)
		var e dsp.TransferError
		if err := dsp.Decode(res.body, &e); err != nil || e.Code != dsp.CodeNotFound {
			t.Fatalf("404 body %s (%v)", res.body, err)
		}
	}
	notFound(r.do("GET", "/dsp/transfers/"+dsp.TransferPIDPrefix+"xfr_nosuch", r.connector, nil))
	for _, key := range []string{other, "", "dp.key_nosuch.secret"} {
		notFound(r.do("GET", "/dsp/transfers/"+r.pid, key, nil))
		for _, m := range []dsp.Message{&dsp.TransferTerminationMessage{ProviderPID: r.pid, ConsumerPID: r.cpid},
			&dsp.TransferCompletionMessage{ProviderPID: r.pid, ConsumerPID: r.cpid}} {
			body, _ := dsp.Encode(m)
			kind := map[string]string{dsp.KindTransferTermination: "termination", dsp.KindTransferCompletion: "completion"}[m.MessageKind()]
			notFound(r.do("POST", "/dsp/transfers/"+r.pid+"/"+kind, key, body))
		}
	}
	request, _ := dsp.Encode(r.requestMessage())
	notFound(r.do("POST", "/dsp/transfers/request", "", request))
	// The supplier's key has no buyer role: it asks for no transfer.
	notFound(r.do("POST", "/dsp/transfers/request", r.keyA, request))
	if n := r.count("dsp_transfers"); n != 1 {
		t.Fatalf("%d transfers", n)
	}
	r.wantTransfer(dsp.TransferRequested)
}

// Invalid messages are refused with 400 and INVALID_MESSAGE and change nothing; the
// provider's REST moves are the supplier's.
func TestDSPTransferInvalidMessages(t *testing.T) {
	r := newFinalTPRun(t)
	r.kRequest()
	wrong, _ := dsp.Encode(&dsp.TransferTerminationMessage{ProviderPID: r.pid, ConsumerPID: "urn:uuid:other"})
	r.wantTransferError(r.do("POST", "/dsp/transfers/"+r.pid+"/termination", r.connector, wrong), http.StatusBadRequest, dsp.CodeInvalidMessage)
	// A body that is not the endpoint's message.
	suspend, _ := dsp.Encode(&dsp.TransferSuspensionMessage{ProviderPID: r.pid, ConsumerPID: r.cpid})
	r.wantTransferError(r.do("POST", "/dsp/transfers/"+r.pid+"/termination", r.connector, suspend), http.StatusBadRequest, dsp.CodeInvalidMessage)
	// The consumer does not start a requested transfer: the provider does.
	r.refused(r.start(), dsp.TransferRequested)

	// The provider's moves through the REST API: the supplier's, not the buyer's nor the
	// operator's (403); another supplier does not see the transfer (404).
	move := "/api/v1/dsp/provider/transfers/" + r.pid + "/start"
	wantProblem(t, r.do("POST", move, r.connector, nil), http.StatusForbidden, "")
	wantProblem(t, r.do("POST", move, r.operator, nil), http.StatusForbidden, "")
	wantProblem(t, r.do("POST", move, r.keyB, nil), http.StatusNotFound, "")
	wantProblem(t, r.do("GET", "/api/v1/dsp/provider/transfers/"+r.pid, r.keyB, nil), http.StatusNotFound, "")
	wantProblem(t, r.do("GET", "/api/v1/deals/"+r.dealID+"/dsp-transfers", r.keyB, nil), http.StatusNotFound, "")
	// A move the state does not admit: 409; a reason on a start: 400.
	wantProblem(t, r.do("POST", "/api/v1/dsp/provider/transfers/"+r.pid+"/complete", r.keyA, nil), http.StatusConflict, "")
	wantProblem(t, r.do("POST", "/api/v1/dsp/provider/transfers/"+r.pid+"/suspend", r.keyA, map[string]any{"reason": "x"}), http.StatusConflict, "")
	r.wantTransfer(dsp.TransferRequested)
	r.tcb.none()
	r.dStart()
	wantProblem(t, r.do("POST", move, r.keyA, nil), http.StatusConflict, "")
	// The operator sees the transfer and what the consumer was told.
	res := r.do("GET", "/api/v1/dsp/provider/transfers/"+r.pid, r.operator, nil)
	wantStatus(t, res, http.StatusOK)
	if v := res.json(t); v["state"] != "STARTED" || v["told"] != "STARTED" || v["deal_id"] != r.dealID || v["agreement_id"] != dsp.DealIRIPrefix+r.dealID ||
		v["token_expires_at"] == nil || strings.Contains(string(res.body), r.token) {
		t.Fatalf("the transfer as the operator sees it: %s", res.body)
	}
	r.tcb.none()
}

// The data address serves the deal's manifest and files as the REST download does:
// each fresh GET one counted use and a filed delivery, a Range resuming without
// another, HEAD counting nothing; without the token, or with another, nothing.
func TestDSPTransferDataAddress(t *testing.T) {
	r := newFinalTPRun(t)
	r.kRequest()
	r.dStart()
	before := r.uses()
	r.manifest()
	if r.uses() != before {
		t.Fatal("reading the manifest counted a use")
	}
	wantStatus(t, r.get("HEAD", "freight/rates.bin", r.token), http.StatusOK)
	r.pull("freight/rates.bin")
	if r.uses() != before+1 {
		t.Fatalf("uses %v after one download, %v before", r.uses(), before)
	}
	// A download of the first 1000 bytes is a delivery (one use); the rest, asked with a
	// Range from there, resumes it without another.
	f := r.files["freight/rates.bin"]
	res := r.get("GET", "freight/rates.bin", r.token, "Range", "bytes=0-999")
	wantStatus(t, res, http.StatusPartialContent)
	if !bytes.Equal(res.body, f[:1000]) || r.uses() != before+2 {
		t.Fatalf("the first range: %d bytes, uses %v", len(res.body), r.uses())
	}
	res = r.get("GET", "freight/rates.bin", r.token, "Range", "bytes=1000-")
	wantStatus(t, res, http.StatusPartialContent)
	if !bytes.Equal(res.body, f[1000:]) || r.uses() != before+2 {
		t.Fatalf("the resumed range: %d bytes, uses %v", len(res.body), r.uses())
	}
	res = r.get("GET", "freight/rates.bin", r.token, "Range", fmt.Sprintf("bytes=%d-", len(f)+5))
	wantStatus(t, res, http.StatusRequestedRangeNotSatisfiable)
	if res.header.Get("Content-Range") != fmt.Sprintf("bytes */%d", len(f)) {
		t.Fatalf("416 Content-Range %q", res.header.Get("Content-Range"))
	}
	wantStatus(t, r.get("GET", "nosuch.csv", r.token), http.StatusNotFound)
	res = r.get("GET", "", "")
	wantStatus(t, res, http.StatusUnauthorized)
	if res.header.Get("WWW-Authenticate") != `Bearer realm="dataport"` {
		t.Fatalf("without a token: WWW-Authenticate %q", res.header.Get("WWW-Authenticate"))
	}
	r.refusedPull(strings.Repeat("A", 43))
	r.refusedPull(r.token[1:] + "A")
	deliveries := r.do("GET", "/api/v1/deals/"+r.dealID+"/deliveries", r.connector, nil)
	if n := strings.Count(string(deliveries.body), `"completed_at"`); n != 2 { // the whole download, and the resumed one
		t.Fatalf("deliveries: %s", deliveries.body)
	}
	// Another transfer's token opens only its own address.
	second := r.requestMessage()
	second.ConsumerPID = "urn:uuid:" + dataportTestID(t)
	res = r.request(second)
	wantStatus(t, res, http.StatusCreated)
	var p dsp.TransferProcess
	if err := dsp.Decode(res.body, &p); err != nil {
		t.Fatal(err)
	}
	firstPID, firstToken := r.pid, r.token
	r.pid, r.cpid = p.ProviderPID, second.ConsumerPID
	r.dStart()
	r.address.Endpoint = strings.Replace(r.address.Endpoint, url.PathEscape(r.pid), url.PathEscape(firstPID), 1)
	r.refusedPull(r.token) // the second transfer's token at the first's address
	r.token = firstToken
	r.manifest()
}

// With AutoStart (serve's default), dataport starts a pull itself once the request is
// acknowledged; the start reaches the callback with the credentials Peers gives.
func TestDSPTransferAutoStart(t *testing.T) {
	peers := peerTokens{}
	r := newTPRun(t, api.DSPTransferOptions{AutoStart: true, Peers: peers})
	peers[r.connectorID] = "token-the-connector-issued"
	r.finalize()
	res := r.request(r.requestMessage())
	wantStatus(t, res, http.StatusCreated)
	var p dsp.TransferProcess
	if err := dsp.Decode(res.body, &p); err != nil || p.State != dsp.TransferRequested {
		t.Fatalf("acknowledgement %s (%v)", res.body, err)
	}
	r.pid = p.ProviderPID
	got := r.tcb.next()
	if got.authorization != "Bearer token-the-connector-issued" {
		t.Fatalf("the start came with Authorization %q", got.authorization)
	}
	r.wantStart(got)
	// The start was posted after the acknowledgement: the consumer is recorded as told
	// once its callback answered.
	r.waitTold(dsp.TransferStarted)
	r.wantTransfer(dsp.TransferStarted)
	r.pull("freight/rates.bin")
	r.pull("README.md")
	r.kCompletion()
	var actor string
	if err := r.db.Read(context.Background(), func(tx *store.Tx) error {
		return tx.QueryRow(`SELECT actor FROM filings WHERE type = 'dsp.transfer_moved'`).Scan(&actor)
	}); err != nil || actor != "system" {
		t.Fatalf("dataport's own start is filed as %q's (%v)", actor, err)
	}
}

// waitTold waits until the row says the consumer was told state.
func (r *tpRun) waitTold(state dsp.TransferState) {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, told := r.row(); told == string(state) {
			return
		} else if time.Now().After(deadline) {
			r.t.Fatalf("the consumer is recorded as told %s, not %s", told, state)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A consumer that cannot be reached misses no message: the state it was told stays
// behind, and the periodic sender sends what is owed — a start it missed first, then
// the suspension — once it can be reached.
func TestDSPTransferCallbackDown(t *testing.T) {
	r := newFinalTPRun(t)
	r.kRequest()
	r.tcb.down.Store(true)
	v := r.dMove("start", nil)
	if v["state"] != "STARTED" || v["told"] != "REQUESTED" || v["send_attempts"] != 1.0 || v["send_error"] == nil {
		t.Fatalf("after a start the consumer did not hear of: %v", v)
	}
	v = r.dMove("suspend", nil)
	if v["state"] != "SUSPENDED" || v["told"] != "REQUESTED" || v["send_attempts"] != 2.0 {
		t.Fatalf("after a suspension the consumer did not hear of: %v", v)
	}
	if state, told := r.row(); state != "SUSPENDED" || told != "REQUESTED" {
		t.Fatalf("dsp_transfers: state %s, told %s", state, told)
	}
	r.wantProcess(r.do("GET", "/dsp/transfers/"+r.pid, r.connector, nil), http.StatusOK, dsp.TransferSuspended)
	svc := r.server.DSPTransferService()
	if n, err := svc.SendOwed(context.Background()); n != 0 || err == nil {
		t.Fatalf("SendOwed with the consumer down: %d, %v", n, err)
	}
	r.tcb.none()

	r.tcb.down.Store(false)
	if n, err := svc.SendOwed(context.Background()); n != 1 || err != nil {
		t.Fatalf("SendOwed: %d, %v", n, err)
	}
	r.wantStart(r.tcb.next())
	if m, ok := r.tcb.next().msg.(*dsp.TransferSuspensionMessage); !ok || m.ProviderPID != r.pid {
		t.Fatalf("after the start, %+v", m)
	}
	r.wantTransfer(dsp.TransferSuspended)
	if n, err := svc.SendOwed(context.Background()); n != 0 || err != nil {
		t.Fatalf("SendOwed with nothing owed: %d, %v", n, err)
	}
	r.tcb.none()
	r.refusedPull(r.token)
	r.dStart()
	r.pull("README.md")
}

// A suspension of a party (叫停) pauses the transfer at once: its data address delivers
// nothing, the supplier moves nothing, and the consumer's completion confirms nothing;
// lifted, the same token pulls again and the completion releases the escrow.
func TestDSPTransferSuspendedParty(t *testing.T) {
	r := newFinalTPRun(t)
	r.kRequest()
	r.dStart()
	price := r.held()
	wantStatus(t, r.do("POST", "/api/v1/participants/"+r.supplierA+"/suspend", r.operator, map[string]any{"reason": "叫停: investigation"}), http.StatusOK)
	before := r.uses()
	for _, path := range []string{"", "README.md"} {
		res := r.get("GET", path, r.token)
		wantStatus(t, res, http.StatusForbidden)
		if bytes.Contains(res.body, r.files["README.md"]) || bytes.Contains(res.body, []byte("merkle_root")) {
			t.Fatalf("a paused transfer delivered %s", res.body)
		}
	}
	if r.uses() != before {
		t.Fatal("a refused pull counted a use")
	}
	wantProblem(t, r.do("POST", "/api/v1/dsp/provider/transfers/"+r.pid+"/suspend", r.keyA, nil), http.StatusForbidden, "")
	e := r.wantTransferError(r.completion(), http.StatusBadRequest, dsp.CodeInvalidState)
	if !strings.Contains(fmt.Sprint(e.Reason), "suspended") {
		t.Fatalf("the refusal does not say why: %v", e.Reason)
	}
	r.wantTransfer(dsp.TransferStarted)
	r.wantHeld()
	r.tcb.none()
	wantStatus(t, r.do("POST", "/api/v1/participants/"+r.supplierA+"/resume", r.operator, map[string]any{}), http.StatusOK)
	r.pull("README.md")
	r.kCompletion()
	r.wantReleased(price)
}
