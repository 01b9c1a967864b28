package api_test

// The Transfer Process Protocol, dataport the consumer (TP_C), against the running API
// server: dataport's moves (D) are the buyer's REST calls, which the server sends to
// the kit connector (api/dsp_kit_test.go, K); the kit's moves are its posts to
// dataport's callback endpoints. The kit is a real provider connector: its transfer
// endpoints run the provider's state machine on every message dataport sends (decoded
// and validated), and its data endpoint serves a manifest and its files to the token
// its start message gave, refusing it while the transfer is not STARTED. Each run
// starts from a negotiation finalized through the REST API and the callbacks (D
// request, K agreement, D verification, K finalized). After every step the state is
// checked three ways: the REST GET, the dsp_consumer_transfers row, and the kit's own
// record. A refused message (✗) must answer 400 with a TransferError
// (INVALID_STATE_TRANSITION, both pids), leave the state as it was, send the kit
// nothing, and leave the transfer usable: the next legal move succeeds. Where the
// scenario starts the transfer, the pull is awaited and each file downloaded through
// the REST API and compared with what the kit served.

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dataport/dataport/api"
	"github.com/dataport/dataport/delivery"
	"github.com/dataport/dataport/dsp"
	"github.com/dataport/dataport/store"
)

// kitTransfer is a transfer as the kit holds it.
type kitTransfer struct {
	providerPID, consumerPID, agreementID, format, callback string
	state                                                   dsp.TransferState
	token                                                   string // the data endpoint's token, from the last start
	starts                                                  int
	refuse                                                  bool // the data plane refuses every token (not serving yet)
}

// kitData is what the kit's data endpoint serves: files by path, and the manifest
// over them (corrupt: a path whose bytes do not match the manifest).
type kitData struct {
	files   map[string][]byte
	order   []string
	corrupt string
}

// tpcRun is one transfer between a buyer of the exchange and the kit's provider, of a
// negotiation finalized first.
type tpcRun struct {
	*cncRun
	data                         kitData
	transfers                    map[string]*kitTransfer // the kit's, by provider pid
	id, consumerPID, providerPID string
}

var tpcFiles = []string{"2024/tides.csv", "readme.txt"}

func newTPCRun(t *testing.T, opts ...func(*api.Deps)) *tpcRun {
	w := newConsumerWorld(t, opts...)
	_, signer, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c := &cncRun{consumerWorld: w, kit: newKit(t, w.exchange, nil), dataset: kitDataset("tides"), signer: signer}
	r := &tpcRun{cncRun: c, transfers: map[string]*kitTransfer{},
		data: kitData{files: map[string][]byte{
			tpcFiles[0]: []byte("gauge,hour,metres\nYangshan,00,3.21\nYangshan,01,3.47\n"),
			tpcFiles[1]: []byte("Tide gauges, hourly, from the kit's connector.\n")}, order: tpcFiles}}
	r.kitTransferEndpoints()
	c.dRequest()
	c.kAgreement()
	c.dVerify()
	c.kFinalized()
	return r
}

// kitTransferEndpoints adds the Transfer Process Protocol's provider endpoints and a
// data endpoint to the kit.
func (r *tpcRun) kitTransferEndpoints() {
	k := r.kit
	k.handle("POST /dsp/transfers/request", func() dsp.Message { return &dsp.TransferRequestMessage{} }, func(w http.ResponseWriter, req *http.Request, m dsp.Message) {
		msg := m.(*dsp.TransferRequestMessage)
		if want := k.x.srv.URL + "/dsp/callback"; msg.CallbackAddress != want {
			k.t.Errorf("the transfer request's callbackAddress %q, want %q", msg.CallbackAddress, want)
		}
		k.mu.Lock()
		defer k.mu.Unlock()
		next, err := dsp.TransferState("").Next(dsp.Consumer, dsp.MoveTransferRequest)
		if err != nil {
			k.t.Error(err)
		}
		tr := &kitTransfer{providerPID: fmt.Sprintf("urn:kit:transfer:%d", k.pids.Add(1)), consumerPID: msg.ConsumerPID,
			agreementID: msg.AgreementID, format: msg.Format, callback: msg.CallbackAddress, state: next}
		r.transfers[tr.providerPID] = tr
		dsp.WriteMessage(w, http.StatusCreated, &dsp.TransferProcess{ProviderPID: tr.providerPID, ConsumerPID: tr.consumerPID, State: tr.state})
	})
	for suffix, fresh := range map[string]func() dsp.Message{
		"start":       func() dsp.Message { return &dsp.TransferStartMessage{} },
		"completion":  func() dsp.Message { return &dsp.TransferCompletionMessage{} },
		"suspension":  func() dsp.Message { return &dsp.TransferSuspensionMessage{} },
		"termination": func() dsp.Message { return &dsp.TransferTerminationMessage{} },
	} {
		k.handle("POST /dsp/transfers/{providerPid}/"+suffix, fresh, func(w http.ResponseWriter, req *http.Request, m dsp.Message) {
			k.mu.Lock()
			defer k.mu.Unlock()
			tr := r.transfers[req.PathValue("providerPid")]
			if tr == nil {
				k.t.Errorf("dataport sent a %s for transfer %s, which the kit does not have", m.MessageKind(), req.PathValue("providerPid"))
				dsp.WriteError(w, dsp.TransferProcessProtocol, req.PathValue("providerPid"), "", fmt.Errorf("no transfer"))
				return
			}
			provider, consumer := dsp.PIDsOf(m)
			if provider != tr.providerPID || consumer != tr.consumerPID {
				k.t.Errorf("dataport's %s names %s/%s on transfer %s/%s", m.MessageKind(), provider, consumer, tr.providerPID, tr.consumerPID)
			}
			move, err := dsp.TransferMoveOf(m)
			if err == nil {
				var next dsp.TransferState
				if next, err = tr.state.Next(dsp.Consumer, move); err == nil {
					tr.state = next
					dsp.WriteMessage(w, http.StatusOK, &dsp.TransferProcess{ProviderPID: tr.providerPID, ConsumerPID: tr.consumerPID, State: tr.state})
					return
				}
			}
			k.t.Errorf("dataport sent a %s the kit's transfer (%s) does not admit: %v", m.MessageKind(), tr.state, err)
			dsp.WriteError(w, dsp.TransferProcessProtocol, tr.providerPID, tr.consumerPID, err)
		})
	}
	data := func(w http.ResponseWriter, req *http.Request) {
		k.mu.Lock()
		tr := r.transfers[req.PathValue("providerPid")]
		ok := tr != nil && tr.state == dsp.TransferStarted && !tr.refuse && req.Header.Get("Authorization") == "Bearer "+tr.token
		k.mu.Unlock()
		if !ok { // an unknown transfer, a token not (or no longer) valid, a transfer not started
			w.WriteHeader(http.StatusForbidden)
			return
		}
		p := req.PathValue("path")
		if p == "" {
			m := delivery.Manifest{ProductID: "kit-tides", Revision: 1}
			for _, name := range r.data.order {
				content := r.data.files[name]
				if name == r.data.corrupt {
					content = []byte("what the manifest promised")
				}
				sum := sha256.Sum256(content)
				m.Files = append(m.Files, delivery.File{Path: name, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(content)), MediaType: "text/plain"})
			}
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(m)
			return
		}
		content, found := r.data.files[p]
		if !found {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Write(content)
	}
	k.mux.HandleFunc("GET /data/{providerPid}", data)
	k.mux.HandleFunc("GET /data/{providerPid}/{path...}", data)
}

func (r *tpcRun) tpath(suffix string) string {
	return "/api/v1/dsp/consumer/transfers/" + r.id + suffix
}

// kitState is the kit's state of the run's transfer.
func (r *tpcRun) kitTransfer() *kitTransfer {
	r.kit.mu.Lock()
	defer r.kit.mu.Unlock()
	tr := r.transfers[r.providerPID]
	if tr == nil {
		r.t.Fatalf("the kit has no transfer %s", r.providerPID)
	}
	cp := *tr
	return &cp
}

// transfer decodes a REST transfer.
func (r *tpcRun) transfer(res response, status int) map[string]any {
	r.t.Helper()
	wantStatus(r.t, res, status)
	tr := res.json(r.t)
	if tr["id"] != r.id || tr["consumer_pid"] != r.consumerPID || tr["provider_pid"] != r.providerPID || tr["peer_id"] != r.kit.id ||
		tr["buyer_id"] != r.buyerID || tr["negotiation_id"] != r.cncRun.id || tr["format"] != dsp.FormatPull {
		r.t.Fatalf("transfer %s", res.body)
	}
	return tr
}

// wantState checks the state three ways: the buyer's GET, the row, and the kit.
func (r *tpcRun) wantState(state dsp.TransferState) map[string]any {
	r.t.Helper()
	tr := r.transfer(r.do("GET", r.tpath(""), r.buyer, nil), http.StatusOK)
	var row string
	if err := r.db.Read(context.Background(), func(tx *store.Tx) error {
		return tx.QueryRow(`SELECT state FROM dsp_consumer_transfers WHERE id = $1`, r.id).Scan(&row)
	}); err != nil {
		r.t.Fatal(err)
	}
	if kit := r.kitTransfer().state; tr["state"] != string(state) || row != string(state) || kit != state {
		r.t.Fatalf("REST %v, row %s, kit %s; want %s", tr["state"], row, kit, state)
	}
	return tr
}

// wantAck checks dataport's 200 answer to one of the kit's messages.
func (r *tpcRun) wantAck(res response, state dsp.TransferState) {
	r.t.Helper()
	wantStatus(r.t, res, http.StatusOK)
	var p dsp.TransferProcess
	if err := dsp.Decode(res.body, &p); err != nil {
		r.t.Fatalf("the answer does not validate as a TransferProcess: %v\n%s", err, res.body)
	}
	if p.ProviderPID != r.providerPID || p.ConsumerPID != r.consumerPID || p.State != state {
		r.t.Fatalf("answer %+v, want %s", p, state)
	}
}

// wantError checks a TransferError answer naming both pids.
func (r *tpcRun) wantError(res response, status int, code string) dsp.TransferError {
	r.t.Helper()
	return wantTransferError(r.t, res, status, code, r.providerPID, r.consumerPID)
}

// refused checks that dataport refused one of the kit's messages as not admitted in
// state, naming both pids, changed nothing, and sent nothing.
func (r *tpcRun) refused(res response, state dsp.TransferState) {
	r.t.Helper()
	r.wantError(res, http.StatusBadRequest, dsp.CodeInvalidState)
	r.wantState(state)
	r.kit.none()
}

// dataport's moves: the buyer's REST calls.

func (r *tpcRun) dRequest() {
	r.t.Helper()
	res := r.do("POST", "/api/v1/dsp/consumer/transfers", r.buyer, map[string]any{"negotiation_id": r.cncRun.id})
	wantStatus(r.t, res, http.StatusCreated)
	tr := res.json(r.t)
	r.id, r.consumerPID, r.providerPID = tr["id"].(string), tr["consumer_pid"].(string), tr["provider_pid"].(string)
	if res.header.Get("Location") != "/api/v1/dsp/consumer/transfers/"+r.id || r.consumerPID != dsp.ConsumerTransferPIDPrefix+r.id {
		r.t.Fatalf("created %s (Location %q)", res.body, res.header.Get("Location"))
	}
	m, ok := r.kit.next().(*dsp.TransferRequestMessage)
	agreement := r.do("GET", r.path(""), r.buyer, nil).json(r.t)["agreement_id"]
	if !ok || m.ConsumerPID != r.consumerPID || m.AgreementID != agreement || m.Format != dsp.FormatPull || m.DataAddress != nil {
		r.t.Fatalf("request %+v (agreement %v)", m, agreement)
	}
	tr = r.wantState(dsp.TransferRequested)
	if tr["pull_state"] != "" || len(tr["files"].([]any)) != 0 || !slices.Equal(moves(tr), []string{"terminate"}) {
		r.t.Fatalf("requested %v", tr)
	}
	r.kit.none()
}

func moves(tr map[string]any) []string {
	var out []string
	for _, m := range tr["moves"].([]any) {
		out = append(out, m.(string))
	}
	return out
}

// dMove makes the buyer's move (suspend, start, complete, terminate) and checks the
// message the kit got.
func (r *tpcRun) dMove(name string, state dsp.TransferState) {
	r.t.Helper()
	body := map[string]any{}
	if name == "suspend" || name == "terminate" {
		body = map[string]any{"code": "BUYER_" + strings.ToUpper(name), "reason": "the buyer's " + name}
	}
	tr := r.transfer(r.do("POST", r.tpath("/"+name), r.buyer, body), http.StatusOK)
	if tr["state"] != string(state) {
		r.t.Fatalf("after %s: %v", name, tr["state"])
	}
	m := r.kit.next()
	provider, consumer := dsp.PIDsOf(m)
	kinds := map[string]string{"suspend": dsp.KindTransferSuspension, "start": dsp.KindTransferStart, "complete": dsp.KindTransferCompletion, "terminate": dsp.KindTransferTermination}
	if m.MessageKind() != kinds[name] || provider != r.providerPID || consumer != r.consumerPID {
		r.t.Fatalf("%s sent %+v", name, m)
	}
	switch m := m.(type) {
	case *dsp.TransferSuspensionMessage:
		if m.Code != "BUYER_SUSPEND" || !strings.Contains(fmt.Sprint(m.Reason), "the buyer's suspend") {
			r.t.Fatalf("suspension %+v", m)
		}
	case *dsp.TransferTerminationMessage:
		if m.Code != "BUYER_TERMINATE" || !strings.Contains(fmt.Sprint(m.Reason), "the buyer's terminate") {
			r.t.Fatalf("termination %+v", m)
		}
	}
	r.wantState(state)
	r.kit.none()
}

// restRefused checks that a move of the buyer's that the state does not admit is
// refused before anything is sent.
func (r *tpcRun) restRefused(name string, state dsp.TransferState) {
	r.t.Helper()
	p := wantProblem(r.t.(*testing.T), r.do("POST", r.tpath("/"+name), r.buyer, nil), http.StatusConflict, "")
	if !strings.Contains(fmt.Sprint(p["detail"]), string(state)) {
		r.t.Fatalf("the refusal does not name the state: %v", p)
	}
	r.wantState(state)
	r.kit.none()
}

// The kit's moves: its posts to dataport's callback endpoints.

func (r *tpcRun) start() response {
	r.kit.mu.Lock()
	tr := r.transfers[r.providerPID]
	tr.starts++
	token := fmt.Sprintf("kit-pull-token-%d", tr.starts)
	r.kit.mu.Unlock()
	addr := &dsp.DataAddress{EndpointType: dsp.EndpointTypeHTTP, Endpoint: r.kit.srv.URL + "/data/" + r.providerPID,
		EndpointProperties: []dsp.EndpointProperty{{Name: "authorization", Value: token}, {Name: "authType", Value: "bearer"}}}
	// The new token is the data plane's before dataport hears of it (dataport pulls as
	// soon as it acknowledges); the old one is refused from now on, unless dataport
	// refuses the start.
	r.kit.mu.Lock()
	old := tr.token
	tr.token = token
	r.kit.mu.Unlock()
	res := r.kit.send("/transfers/"+r.consumerPID+"/start", &dsp.TransferStartMessage{ProviderPID: r.providerPID, ConsumerPID: r.consumerPID, DataAddress: addr})
	if res.status != http.StatusOK {
		r.kit.mu.Lock()
		tr.token = old
		r.kit.mu.Unlock()
	}
	return res
}

// kStart starts the transfer with a new token, and waits for the pull.
func (r *tpcRun) kStart() {
	r.t.Helper()
	r.kit.mu.Lock()
	r.transfers[r.providerPID].state = dsp.TransferStarted // the kit's data plane serves from the start on
	r.kit.mu.Unlock()
	res := r.start()
	r.wantAck(res, dsp.TransferStarted)
	r.wantState(dsp.TransferStarted)
	r.awaitPull()
	r.kit.none()
}

// awaitPull waits until the pull is done, then downloads every file through the REST
// API and compares it with what the kit served.
func (r *tpcRun) awaitPull() {
	r.t.Helper()
	tr := r.awaitPullState("pulled")
	files := tr["files"].([]any)
	if len(files) != len(r.data.order) {
		r.t.Fatalf("pulled %v", files)
	}
	for i, f := range files {
		f := f.(map[string]any)
		want := r.data.files[r.data.order[i]]
		sum := sha256.Sum256(want)
		if f["path"] != r.data.order[i] || f["sha256"] != hex.EncodeToString(sum[:]) || f["size"] != float64(len(want)) {
			r.t.Fatalf("file %d: %v", i, f)
		}
		res := r.do("GET", r.tpath("/files/"+r.data.order[i]), r.buyer, nil)
		wantStatus(r.t, res, http.StatusOK)
		if string(res.body) != string(want) || res.header.Get("ETag") != strconv.Quote(hex.EncodeToString(sum[:])) {
			r.t.Fatalf("downloaded %s: %q, ETag %s", r.data.order[i], res.body, res.header.Get("ETag"))
		}
	}
}

// awaitPullState waits until the transfer's pull is in state want.
func (r *tpcRun) awaitPullState(want string) map[string]any {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		tr := r.transfer(r.do("GET", r.tpath(""), r.buyer, nil), http.StatusOK)
		if tr["pull_state"] == want {
			return tr
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("the pull is %v (%v), never %s", tr["pull_state"], tr["pull_error"], want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r *tpcRun) suspension() response {
	return r.kit.send("/transfers/"+r.consumerPID+"/suspension", &dsp.TransferSuspensionMessage{ProviderPID: r.providerPID, ConsumerPID: r.consumerPID,
		Code: "KIT_PAUSE", Reason: []any{"the kit pauses the transfer"}})
}

func (r *tpcRun) completion() response {
	return r.kit.send("/transfers/"+r.consumerPID+"/completion", &dsp.TransferCompletionMessage{ProviderPID: r.providerPID, ConsumerPID: r.consumerPID})
}

func (r *tpcRun) termination() response {
	return r.kit.send("/transfers/"+r.consumerPID+"/termination", &dsp.TransferTerminationMessage{ProviderPID: r.providerPID, ConsumerPID: r.consumerPID,
		Code: "KIT_END", Reason: []any{"the kit ends the transfer"}})
}

// kMove posts one of the kit's moves and checks it was taken.
func (r *tpcRun) kMove(send func() response, state dsp.TransferState, reason string) {
	r.t.Helper()
	r.kit.mu.Lock()
	r.transfers[r.providerPID].state = state
	r.kit.mu.Unlock()
	r.wantAck(send(), state)
	tr := r.wantState(state)
	if reason != "" && !strings.Contains(fmt.Sprint(tr["reason"]), reason) {
		r.t.Fatalf("reason %v, want %q", tr["reason"], reason)
	}
	if (state == dsp.TransferSuspended || state == dsp.TransferTerminated) && tr["pull_state"] == "pulling" {
		r.t.Fatalf("the pull still runs: %v", tr)
	}
	r.kit.none()
}

func (r *tpcRun) kSuspension() {
	r.kMove(r.suspension, dsp.TransferSuspended, "the kit pauses the transfer")
}
func (r *tpcRun) kCompletion() { r.kMove(r.completion, dsp.TransferCompleted, "") }
func (r *tpcRun) kTermination() {
	r.kMove(r.termination, dsp.TransferTerminated, "the kit ends the transfer")
}

// TP_C:01-01: Verify transfer request, provider started, provider terminated.
func TestTCK_TP_C_01_01(t *testing.T) {
	r := newTPCRun(t)
	r.dRequest()
	r.kStart()
	r.kTermination()
	// What was pulled stays the buyer's.
	wantStatus(t, r.do("GET", r.tpath("/files/"+tpcFiles[1]), r.buyer, nil), http.StatusOK)
}

// TP_C:01-02: Verify transfer request, provider started, provider completed.
func TestTCK_TP_C_01_02(t *testing.T) {
	r := newTPCRun(t)
	r.dRequest()
	r.kStart()
	r.kCompletion()
}

// TP_C:01-03: Verify transfer request, provider started, provider suspended, provider terminated.
func TestTCK_TP_C_01_03(t *testing.T) {
	r := newTPCRun(t)
	r.dRequest()
	r.kStart()
	r.kSuspension()
	r.kTermination()
}

// TP_C:01-04: Verify transfer request, provider started, provider suspended, provider
// started, provider completed — the restart's new address is pulled from, the first
// token being refused by then.
func TestTCK_TP_C_01_04(t *testing.T) {
	r := newTPCRun(t)
	r.dRequest()
	r.kStart()
	r.kSuspension()
	r.data.files["2025/tides.csv"] = []byte("gauge,hour,metres\nYangshan,00,2.98\n")
	r.data.order = append([]string{"2025/tides.csv"}, r.data.order...)
	slices.Sort(r.data.order)
	r.kStart()
	r.kCompletion()
}

// TP_C:01-05: Verify transfer request, provider terminated.
func TestTCK_TP_C_01_05(t *testing.T) {
	r := newTPCRun(t)
	r.dRequest()
	r.kTermination()
	if tr := r.wantState(dsp.TransferTerminated); tr["pull_state"] != "" || len(tr["files"].([]any)) != 0 {
		t.Fatalf("terminated before it started: %v", tr)
	}
}

// TP_C:02-01: Verify transfer request, provider started, consumer terminated.
func TestTCK_TP_C_02_01(t *testing.T) {
	r := newTPCRun(t)
	r.dRequest()
	r.kStart()
	r.dMove("terminate", dsp.TransferTerminated)
}

// TP_C:02-02: Verify transfer request, provider started, consumer completed.
func TestTCK_TP_C_02_02(t *testing.T) {
	r := newTPCRun(t)
	r.dRequest()
	r.kStart()
	r.dMove("complete", dsp.TransferCompleted)
}

// TP_C:02-03: Verify transfer request, provider started, consumer suspended, consumer terminated.
func TestTCK_TP_C_02_03(t *testing.T) {
	r := newTPCRun(t)
	r.dRequest()
	r.kStart()
	r.dMove("suspend", dsp.TransferSuspended)
	r.dMove("terminate", dsp.TransferTerminated)
}

// TP_C:02-04: Verify transfer request, provider started, consumer suspended, consumer
// started, consumer completed — suspended before the data endpoint answered, the pull
// stops; the buyer's restart pulls from the address the kit gave.
func TestTCK_TP_C_02_04(t *testing.T) {
	r := newTPCRun(t)
	r.dRequest()
	// The kit's data plane is not serving yet: the data endpoint refuses the token,
	// and the pull fails until the buyer restarts it.
	r.kit.mu.Lock()
	r.transfers[r.providerPID].state = dsp.TransferStarted
	r.transfers[r.providerPID].refuse = true
	r.kit.mu.Unlock()
	r.wantAck(r.start(), dsp.TransferStarted)
	r.wantState(dsp.TransferStarted)
	if tr := r.awaitPullState("failed"); !strings.Contains(fmt.Sprint(tr["pull_error"]), "403") || len(tr["files"].([]any)) != 0 {
		t.Fatalf("failed pull %v", tr)
	}
	r.dMove("suspend", dsp.TransferSuspended)
	r.kit.mu.Lock()
	r.transfers[r.providerPID].refuse = false // serving now, to the token the start gave
	r.kit.mu.Unlock()
	r.dMove("start", dsp.TransferStarted)
	r.awaitPull()
	r.dMove("complete", dsp.TransferCompleted)
}

// TP_C:02-05: Verify transfer request, consumer terminated.
func TestTCK_TP_C_02_05(t *testing.T) {
	r := newTPCRun(t)
	r.dRequest()
	r.restRefused("complete", dsp.TransferRequested) // not a move of REQUESTED: nothing sent
	r.dMove("terminate", dsp.TransferTerminated)
}

// TP_C:03-01: Verify transfer request, provider completed — refused; the provider may
// still start it.
func TestTCK_TP_C_03_01(t *testing.T) {
	r := newTPCRun(t)
	r.dRequest()
	r.refused(r.completion(), dsp.TransferRequested)
	r.kStart()
}

// TP_C:03-02: Verify transfer request, provider suspended — refused; the provider may
// still start it.
func TestTCK_TP_C_03_02(t *testing.T) {
	r := newTPCRun(t)
	r.dRequest()
	r.refused(r.suspension(), dsp.TransferRequested)
	r.kStart()
}

// TP_C:03-03: Verify transfer request, provider started, provider suspended, provider
// completed — refused; the provider may still restart it.
func TestTCK_TP_C_03_03(t *testing.T) {
	r := newTPCRun(t)
	r.dRequest()
	r.kStart()
	r.kSuspension()
	r.refused(r.completion(), dsp.TransferSuspended)
	r.kStart()
	r.kCompletion()
}

// TP_C:03-04: Verify transfer request, provider started, provider terminated, provider
// started — refused: TERMINATED is final.
func TestTCK_TP_C_03_04(t *testing.T) {
	r := newTPCRun(t)
	r.dRequest()
	r.kStart()
	r.kTermination()
	r.refused(r.start(), dsp.TransferTerminated)
	r.restRefused("start", dsp.TransferTerminated)
}

// TP_C:03-05: Verify transfer request, provider started, provider terminated, provider
// suspended — refused.
func TestTCK_TP_C_03_05(t *testing.T) {
	r := newTPCRun(t)
	r.dRequest()
	r.kStart()
	r.kTermination()
	r.refused(r.suspension(), dsp.TransferTerminated)
}

// TP_C:03-06: Verify transfer request, provider started, provider terminated, provider
// completed — refused.
func TestTCK_TP_C_03_06(t *testing.T) {
	r := newTPCRun(t)
	r.dRequest()
	r.kStart()
	r.kTermination()
	r.refused(r.completion(), dsp.TransferTerminated)
}

// A transfer needs a FINALIZED negotiation of the caller's: another's is not found,
// one not finalized is refused; nothing is sent or stored either way.
func TestDSPConsumerTransferRefusedRequests(t *testing.T) {
	r := newTPCRun(t)
	_, otherBuyer := r.createWithKey(with(tencent, "uscc", "914403001922038216"))
	wantProblem(t, r.do("POST", "/api/v1/dsp/consumer/transfers", otherBuyer, map[string]any{"negotiation_id": r.cncRun.id}), http.StatusNotFound, "")
	wantProblem(t, r.do("POST", "/api/v1/dsp/consumer/transfers", r.buyer, map[string]any{"negotiation_id": "cng_nosuch"}), http.StatusNotFound, "")
	if p := wantProblem(t, r.do("POST", "/api/v1/dsp/consumer/transfers", r.buyer, map[string]any{}), http.StatusBadRequest, ""); !strings.Contains(fmt.Sprint(p["errors"]), "negotiation_id") {
		t.Fatalf("problem %v", p)
	}
	// A second negotiation, requested but not finalized.
	first := r.cncRun.id
	r.cncRun.dRequest()
	p := wantProblem(t, r.do("POST", "/api/v1/dsp/consumer/transfers", r.buyer, map[string]any{"negotiation_id": r.cncRun.id}), http.StatusConflict, "negotiation_id")
	if !strings.Contains(fmt.Sprint(p["detail"]), "REQUESTED") {
		t.Fatalf("problem %v", p)
	}
	// Without the buyer role.
	wantProblem(t, r.do("POST", "/api/v1/dsp/consumer/transfers", r.kit.key, map[string]any{"negotiation_id": first}), http.StatusForbidden, "")
	r.kit.none()
	if n := r.count("dsp_consumer_transfers"); n != 0 {
		t.Fatalf("%d transfers stored", n)
	}
	// The finalized one goes through; only its buyer and the operator read it.
	r.cncRun.id = first
	r.dRequest()
	wantStatus(t, r.do("GET", r.tpath(""), otherBuyer, nil), http.StatusNotFound)
	wantStatus(t, r.do("GET", r.tpath(""), r.operator, nil), http.StatusOK)
	if items := r.do("GET", "/api/v1/dsp/consumer/transfers", otherBuyer, nil).json(t)["items"].([]any); len(items) != 0 {
		t.Fatalf("another buyer lists %v", items)
	}
	if items := r.do("GET", "/api/v1/dsp/consumer/transfers", r.buyer, nil).json(t)["items"].([]any); len(items) != 1 {
		t.Fatalf("the buyer lists %v", items)
	}
	wantStatus(t, r.do("POST", r.tpath("/terminate"), otherBuyer, nil), http.StatusNotFound)
	r.kit.none()
}

// A callback from anyone but the transfer's peer, or for an unknown pid, is 404 with a
// TransferError; invalid messages are 400 INVALID_MESSAGE; nothing changes.
func TestDSPConsumerTransferCallbacksRefused(t *testing.T) {
	r := newTPCRun(t)
	r.dRequest()
	other := newKit(t, r.exchange, nil)
	start := &dsp.TransferStartMessage{ProviderPID: r.providerPID, ConsumerPID: r.consumerPID,
		DataAddress: &dsp.DataAddress{EndpointType: dsp.EndpointTypeHTTP, Endpoint: r.kit.srv.URL + "/data/" + r.providerPID,
			EndpointProperties: []dsp.EndpointProperty{{Name: "authorization", Value: "t"}}}}
	body, _ := dsp.Encode(start)
	for _, key := range []string{other.key, r.buyer, "", "dp.key_nosuch.secret"} {
		res := r.do("POST", "/dsp/callback/transfers/"+r.consumerPID+"/start", key, body)
		wantStatus(t, res, http.StatusNotFound)
		var e dsp.TransferError
		if err := dsp.Decode(res.body, &e); err != nil || e.Code != dsp.CodeNotFound || e.ProviderPID != "" {
			t.Fatalf("%q: %+v (%v)", key, e, err)
		}
	}
	wantStatus(t, r.kit.send("/transfers/urn:dataport:consumer-transfer:ctr_nosuch/start", start), http.StatusNotFound)
	for name, m := range map[string]dsp.Message{
		"pids":         &dsp.TransferStartMessage{ProviderPID: "urn:kit:transfer:999", ConsumerPID: r.consumerPID, DataAddress: start.DataAddress},
		"no address":   &dsp.TransferStartMessage{ProviderPID: r.providerPID, ConsumerPID: r.consumerPID},
		"not HTTP":     &dsp.TransferStartMessage{ProviderPID: r.providerPID, ConsumerPID: r.consumerPID, DataAddress: &dsp.DataAddress{EndpointType: "https://w3id.org/idsa/v4.1/S3", Endpoint: "s3://bucket/key"}},
		"bad endpoint": &dsp.TransferStartMessage{ProviderPID: r.providerPID, ConsumerPID: r.consumerPID, DataAddress: &dsp.DataAddress{EndpointType: dsp.EndpointTypeHTTP, Endpoint: "/relative"}},
	} {
		t.Run(name, func(t *testing.T) {
			r.wantError(r.kit.send("/transfers/"+r.consumerPID+"/start", m), http.StatusBadRequest, dsp.CodeInvalidMessage)
		})
	}
	for _, raw := range []string{`{"@context": ["https://w3id.org/dspace/2025/1/context.jsonld"], "@type": "TransferStartMessage"}`, `not json`,
		`{"@context": ["https://w3id.org/dspace/2025/1/context.jsonld"], "@type": "TransferCompletionMessage", "providerPid": "x", "consumerPid": "y"}`} {
		r.wantError(r.do("POST", "/dsp/callback/transfers/"+r.consumerPID+"/start", r.kit.key, raw), http.StatusBadRequest, dsp.CodeInvalidMessage)
	}
	r.wantState(dsp.TransferRequested)
	r.kit.none()
	// A suspended peer loses access at once.
	wantStatus(t, r.do("POST", "/api/v1/participants/"+r.kit.id+"/suspend", r.operator, map[string]any{"reason": "叫停: investigation"}), http.StatusOK)
	wantStatus(t, r.start(), http.StatusNotFound)
	wantStatus(t, r.do("POST", "/api/v1/participants/"+r.kit.id+"/resume", r.operator, map[string]any{}), http.StatusOK)
	r.kStart()
}

// A file whose bytes do not match the manifest fails the pull: nothing of it is
// stored, nor listed, nor downloadable.
func TestDSPConsumerTransferHashMismatch(t *testing.T) {
	r := newTPCRun(t)
	r.data.corrupt = tpcFiles[0]
	r.dRequest()
	r.kit.mu.Lock()
	r.transfers[r.providerPID].state = dsp.TransferStarted
	r.kit.mu.Unlock()
	r.wantAck(r.start(), dsp.TransferStarted)
	tr := r.awaitPullState("failed")
	if !strings.Contains(fmt.Sprint(tr["pull_error"]), tpcFiles[0]) || len(tr["files"].([]any)) != 0 {
		t.Fatalf("pull %v", tr)
	}
	served := sha256.Sum256(r.data.files[tpcFiles[0]])
	if _, err := r.blobs.Stat(context.Background(), hex.EncodeToString(served[:])); err == nil {
		t.Fatal("the mismatching bytes were stored")
	}
	wantStatus(t, r.do("GET", r.tpath("/files/"+tpcFiles[0]), r.buyer, nil), http.StatusNotFound)
	var filed int
	r.db.Read(context.Background(), func(tx *store.Tx) error {
		return tx.QueryRow(`SELECT COUNT(*) FROM filings WHERE type = 'dsp.consumer_transfer_pull_failed'`).Scan(&filed)
	})
	if filed != 1 {
		t.Fatalf("%d pull_failed filings", filed)
	}
}

// With AutoComplete, dataport completes the transfer itself once every file is pulled
// and verified.
func TestDSPConsumerTransferAutoComplete(t *testing.T) {
	r := newTPCRun(t, func(d *api.Deps) { d.DSPAutoComplete = true })
	r.dRequest()
	r.kit.mu.Lock()
	r.transfers[r.providerPID].state = dsp.TransferStarted
	r.kit.mu.Unlock()
	r.wantAck(r.start(), dsp.TransferStarted)
	m, ok := r.kit.next().(*dsp.TransferCompletionMessage)
	if !ok || m.ProviderPID != r.providerPID || m.ConsumerPID != r.consumerPID {
		t.Fatalf("completion %+v", m)
	}
	r.awaitPull()
	deadline := time.Now().Add(30 * time.Second)
	for r.kitTransfer().state != dsp.TransferCompleted || r.transfer(r.do("GET", r.tpath(""), r.buyer, nil), http.StatusOK)["state"] != string(dsp.TransferCompleted) {
		if time.Now().After(deadline) {
			t.Fatal("the transfer was not completed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.wantState(dsp.TransferCompleted)
	r.kit.none()
}
