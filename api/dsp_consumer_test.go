package api_test

// The Contract Negotiation Protocol, dataport the consumer (CN_C), against the running
// API server: dataport's moves (D) are the buyer's REST calls, which the server sends
// to the kit connector (api/dsp_kit_test.go, K), a real provider connector that
// decodes and validates every message it gets; the kit's moves are its posts to
// dataport's callback endpoints. After every step the state is checked three ways: the
// REST GET, the dsp_consumer_negotiations row, and the kit's own record of the
// negotiation. A refused message (✗) must answer 400 with a ContractNegotiationError
// (INVALID_STATE_TRANSITION, both pids), leave the state as it was, send the kit
// nothing, and leave the negotiation usable: the next legal move succeeds.

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dataport/dataport/api"
	"github.com/dataport/dataport/dsp"
	"github.com/dataport/dataport/harvest/dsppeer"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
)

// cncRun is one negotiation between a buyer of the exchange and the kit's provider.
type cncRun struct {
	*consumerWorld
	kit                          *kitConnector
	dataset                      string
	id, consumerPID, providerPID string
	agreements                   int
	contract                     string // the contract the kit's last agreement carries
	signer                       ed25519.PrivateKey
}

// newCNCRun starts a consumer world (opts add to the server's dependencies) with the
// kit registered as its peer.
func newCNCRun(t *testing.T, opts ...func(*api.Deps)) *cncRun {
	return newCNCRunOn(t, store.SQLite, opts...)
}

func newCNCRunOn(t *testing.T, engine store.Engine, opts ...func(*api.Deps)) *cncRun {
	w := newConsumerWorldOn(t, engine, opts...)
	_, signer, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &cncRun{consumerWorld: w, kit: newKit(t, w.exchange, nil), dataset: kitDataset("tides"), signer: signer}
}

// catalogOffer is the kit's offer of the dataset as its catalog gives it, with the
// dataset's @id as its target.
func (c *cncRun) catalogOffer() dsp.Policy {
	o := kitPolicy("tides", "")
	o.Target = c.dataset
	return o
}

func (c *cncRun) path(suffix string) string {
	return "/api/v1/dsp/consumer/negotiations/" + c.id + suffix
}

// negotiation decodes a REST negotiation.
func (c *cncRun) negotiation(r response, status int) map[string]any {
	c.t.Helper()
	wantStatus(c.t, r, status)
	n := r.json(c.t)
	if n["id"] != c.id || n["consumer_pid"] != c.consumerPID || n["provider_pid"] != c.providerPID || n["peer_id"] != c.kit.id ||
		n["buyer_id"] != c.buyerID || n["dataset_id"] != c.dataset {
		c.t.Fatalf("negotiation %s", r.body)
	}
	return n
}

// wantState checks the state three ways: the buyer's GET, the row, and the kit.
func (c *cncRun) wantState(state dsp.NegotiationState) map[string]any {
	c.t.Helper()
	n := c.negotiation(c.do("GET", c.path(""), c.buyer, nil), http.StatusOK)
	var row string
	if err := c.db.Read(context.Background(), func(tx *store.Tx) error {
		return tx.QueryRow(`SELECT state FROM dsp_consumer_negotiations WHERE id = $1`, c.id).Scan(&row)
	}); err != nil {
		c.t.Fatal(err)
	}
	kit := c.kit.negotiation(c.providerPID).state
	if n["state"] != string(state) || row != string(state) || kit != state {
		c.t.Fatalf("REST %v, row %s, kit %s; want %s", n["state"], row, kit, state)
	}
	return n
}

// wantAck checks dataport's 200 answer to one of the kit's messages.
func (c *cncRun) wantAck(r response, state dsp.NegotiationState) {
	c.t.Helper()
	wantStatus(c.t, r, http.StatusOK)
	var n dsp.ContractNegotiation
	if err := dsp.Decode(r.body, &n); err != nil {
		c.t.Fatalf("the answer does not validate as a ContractNegotiation: %v\n%s", err, r.body)
	}
	if n.ProviderPID != c.providerPID || n.ConsumerPID != c.consumerPID || n.State != state {
		c.t.Fatalf("answer %+v, want %s", n, state)
	}
}

// refused checks that dataport refused one of the kit's messages as not admitted in
// state, naming both pids, changed nothing, and sent nothing.
func (c *cncRun) refused(r response, state dsp.NegotiationState) {
	c.t.Helper()
	c.wantError(r, http.StatusBadRequest, dsp.CodeInvalidState)
	c.wantState(state)
	c.kit.none()
}

func (c *cncRun) wantError(r response, status int, code string) dsp.ContractNegotiationError {
	c.t.Helper()
	wantStatus(c.t, r, status)
	var e dsp.ContractNegotiationError
	if err := dsp.Decode(r.body, &e); err != nil {
		c.t.Fatalf("the error does not validate as a ContractNegotiationError: %v\n%s", err, r.body)
	}
	if e.Code != code || e.ProviderPID != c.providerPID || e.ConsumerPID != c.consumerPID || len(e.Reason) == 0 {
		c.t.Fatalf("error %+v, want %s for %s %s", e, code, c.providerPID, c.consumerPID)
	}
	return e
}

// restRefused checks that a move of the buyer's that the state does not admit is
// refused before anything is sent.
func (c *cncRun) restRefused(r response, state dsp.NegotiationState) {
	c.t.Helper()
	p := wantProblem(c.t.(*testing.T), r, http.StatusConflict, "")
	if !strings.Contains(fmt.Sprint(p["detail"]), string(state)) {
		c.t.Fatalf("the refusal does not name the state: %v", p)
	}
	c.wantState(state)
	c.kit.none()
}

// dataport's moves: the buyer's REST calls.

func (c *cncRun) dRequest() {
	c.t.Helper()
	r := c.do("POST", "/api/v1/dsp/consumer/negotiations", c.buyer, map[string]any{"peer_id": c.kit.id, "offer": c.catalogOffer()})
	wantStatus(c.t, r, http.StatusCreated)
	n := r.json(c.t)
	c.id, c.consumerPID, c.providerPID = n["id"].(string), n["consumer_pid"].(string), n["provider_pid"].(string)
	if r.header.Get("Location") != "/api/v1/dsp/consumer/negotiations/"+c.id || c.consumerPID != dsp.ConsumerNegotiationPIDPrefix+c.id {
		c.t.Fatalf("created %s (Location %q)", r.body, r.header.Get("Location"))
	}
	m, ok := c.kit.next().(*dsp.ContractRequestMessage)
	if !ok || m.ConsumerPID != c.consumerPID || m.Offer.ID != kitOffer("tides") || m.Offer.Target != c.dataset {
		c.t.Fatalf("request %+v", m)
	}
	if k := c.kit.negotiation(c.providerPID); k.consumerPID != c.consumerPID {
		c.t.Fatalf("the kit's negotiation %+v", k)
	}
	offer := c.wantState(dsp.NegotiationRequested)["offer"].(map[string]any)
	if offer["@id"] != kitOffer("tides") || offer["target"] != c.dataset {
		c.t.Fatalf("the offer on the table %v", offer)
	}
}

func (c *cncRun) accept() response { return c.do("POST", c.path("/accept"), c.buyer, nil) }

func (c *cncRun) dAccept() {
	c.t.Helper()
	c.negotiation(c.accept(), http.StatusOK)
	m, ok := c.kit.next().(*dsp.ContractNegotiationEventMessage)
	if !ok || m.EventType != dsp.EventAccepted || m.ProviderPID != c.providerPID || m.ConsumerPID != c.consumerPID {
		c.t.Fatalf("event %+v", m)
	}
	c.wantState(dsp.NegotiationAccepted)
}

func (c *cncRun) counterRequest(amount string) response {
	o := kitPolicy("tides", amount)
	o.Target = c.dataset
	return c.do("POST", c.path("/request"), c.buyer, map[string]any{"offer": o})
}

func (c *cncRun) dCounterRequest(amount string) {
	c.t.Helper()
	c.negotiation(c.counterRequest(amount), http.StatusOK)
	m, ok := c.kit.next().(*dsp.ContractRequestMessage)
	if !ok || m.ProviderPID != c.providerPID || m.ConsumerPID != c.consumerPID || m.CallbackAddress != "" || payAmount(m.Offer) != amount {
		c.t.Fatalf("counter-request %+v", m)
	}
	n := c.wantState(dsp.NegotiationRequested)
	if got := payAmount(policyOf(c.t, n["offer"])); got != amount {
		c.t.Fatalf("the offer on the table pays %q, want the counter-offer's %q", got, amount)
	}
}

// verify sends the verification, signed over the agreement's contract when signed.
func (c *cncRun) verify(signed bool) response {
	if !signed {
		return c.do("POST", c.path("/verify"), c.buyer, nil)
	}
	sig := base64.StdEncoding.EncodeToString(ed25519.Sign(c.signer, []byte(c.contract)))
	return c.do("POST", c.path("/verify"), c.buyer, map[string]any{"key_id": "ed25519:kit-registered", "signature": sig})
}

func (c *cncRun) dVerify() {
	c.t.Helper()
	c.negotiation(c.verify(true), http.StatusOK)
	m, ok := c.kit.next().(*dsp.ContractAgreementVerificationMessage)
	if !ok || m.ProviderPID != c.providerPID || m.ConsumerPID != c.consumerPID || m.SigningKey != "ed25519:kit-registered" {
		c.t.Fatalf("verification %+v", m)
	}
	sig, err := base64.StdEncoding.DecodeString(m.Signature)
	if err != nil || !ed25519.Verify(c.signer.Public().(ed25519.PublicKey), []byte(c.contract), sig) {
		c.t.Fatalf("the verification's signature does not verify over the agreement's contract (%v)", err)
	}
	c.wantState(dsp.NegotiationVerified)
}

func (c *cncRun) dTerminate() {
	c.t.Helper()
	n := c.negotiation(c.do("POST", c.path("/terminate"), c.buyer, map[string]any{"reason": "the buyer found the data elsewhere"}), http.StatusOK)
	if n["reason"] != "the buyer found the data elsewhere" {
		c.t.Fatalf("reason %v", n["reason"])
	}
	m, ok := c.kit.next().(*dsp.ContractNegotiationTerminationMessage)
	if !ok || m.ProviderPID != c.providerPID || m.ConsumerPID != c.consumerPID || !strings.Contains(fmt.Sprint(m.Reason), "elsewhere") {
		c.t.Fatalf("termination %+v", m)
	}
	c.wantState(dsp.NegotiationTerminated)
}

// The kit's moves: its posts to dataport's callback endpoints.

func (c *cncRun) offer(amount string) response {
	o := kitPolicy("tides", amount)
	o.Target = c.dataset
	return c.kit.send("/negotiations/"+c.consumerPID+"/offers", &dsp.ContractOfferMessage{ProviderPID: c.providerPID, ConsumerPID: c.consumerPID, Offer: o})
}

func (c *cncRun) kOffer(amount string) {
	c.t.Helper()
	c.wantAck(c.offer(amount), dsp.NegotiationOffered)
	c.kit.moved(c.providerPID, dsp.NegotiationOffered)
	n := c.wantState(dsp.NegotiationOffered)
	if got := payAmount(policyOf(c.t, n["offer"])); got != amount {
		c.t.Fatalf("the offer on the table pays %q, want the kit's %q", got, amount)
	}
	c.kit.none()
}

// agreementMessage is the kit's agreement: an ODRL Agreement of the dataset that, as
// a dataport provider's does, carries the contract and its SHA-256.
func (c *cncRun) agreementMessage() *dsp.ContractAgreementMessage {
	c.agreements++
	c.contract = fmt.Sprintf(`{"agreement":%d,"dataset":%q,"price":"450.00 EUR"}`, c.agreements, c.dataset)
	sum := sha256.Sum256([]byte(c.contract))
	return &dsp.ContractAgreementMessage{ProviderPID: c.providerPID, ConsumerPID: c.consumerPID, Agreement: dsp.Policy{
		ID: fmt.Sprintf("urn:kit:agreement:%s:%d", c.id, c.agreements), Type: dsp.TypeAgreement, Target: c.dataset,
		Assigner: "did:web:kit.example", Assignee: dsp.ParticipantIRI(c.buyerID), Timestamp: "2026-11-25T09:00:00Z",
		Permission: []dsp.Rule{{Action: "use", Constraint: []dsp.Constraint{{LeftOperand: "odrl:purpose", Operator: "eq", RightOperand: "research"}}}},
		Extra:      dsp.Extra{dsp.PropContract: c.contract, dsp.PropContractSHA256: hex.EncodeToString(sum[:])}}}
}

func (c *cncRun) agreement() response {
	return c.kit.send("/negotiations/"+c.consumerPID+"/agreement", c.agreementMessage())
}

func (c *cncRun) kAgreement() {
	c.t.Helper()
	c.wantAck(c.agreement(), dsp.NegotiationAgreed)
	c.kit.moved(c.providerPID, dsp.NegotiationAgreed)
	n := c.wantState(dsp.NegotiationAgreed)
	sum := sha256.Sum256([]byte(c.contract))
	if n["agreement_id"] != fmt.Sprintf("urn:kit:agreement:%s:%d", c.id, c.agreements) || n["contract_sha256"] != hex.EncodeToString(sum[:]) {
		c.t.Fatalf("agreement id %v, contract hash %v", n["agreement_id"], n["contract_sha256"])
	}
	if a, _ := n["agreement"].(map[string]any); a == nil || a[dsp.PropContract] != c.contract {
		c.t.Fatalf("the agreement kept: %v", n["agreement"])
	}
	c.kit.none()
}

func (c *cncRun) finalized() response {
	return c.kit.send("/negotiations/"+c.consumerPID+"/events", &dsp.ContractNegotiationEventMessage{ProviderPID: c.providerPID, ConsumerPID: c.consumerPID, EventType: dsp.EventFinalized})
}

func (c *cncRun) kFinalized() {
	c.t.Helper()
	c.wantAck(c.finalized(), dsp.NegotiationFinalized)
	c.kit.moved(c.providerPID, dsp.NegotiationFinalized)
	c.wantState(dsp.NegotiationFinalized)
	c.kit.none()
}

func (c *cncRun) kTerminate() {
	c.t.Helper()
	r := c.kit.send("/negotiations/"+c.consumerPID+"/termination", &dsp.ContractNegotiationTerminationMessage{ProviderPID: c.providerPID, ConsumerPID: c.consumerPID,
		Code: "PROVIDER_ENDED", Reason: []any{"the kit ends the negotiation"}})
	c.wantAck(r, dsp.NegotiationTerminated)
	c.kit.moved(c.providerPID, dsp.NegotiationTerminated)
	n := c.wantState(dsp.NegotiationTerminated)
	if n["reason"] != "PROVIDER_ENDED: the kit ends the negotiation" {
		c.t.Fatalf("reason %v", n["reason"])
	}
	c.kit.none()
}

func policyOf(t testing.TB, v any) dsp.Policy {
	t.Helper()
	raw, _ := json.Marshal(v)
	var p dsp.Policy
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// payAmount is the odrl:payAmount of an offer's compensate duty ("" without one).
func payAmount(p dsp.Policy) string {
	for _, perm := range p.Permission {
		for _, d := range perm.Duty {
			for _, c := range d.Constraint {
				if m, ok := c.RightOperand.(map[string]any); ok {
					return fmt.Sprint(m["@value"])
				}
			}
		}
	}
	return ""
}

// CN_C:01-01: Verify contract request, offer received, consumer accepted, provider
// agreed, consumer verified, provider finalized — and the deal is filed, in the log.
func TestTCK_CN_C_01_01(t *testing.T) {
	c := newCNCRun(t)
	c.dRequest()
	c.kOffer("450.00")
	c.dAccept()
	c.kAgreement()
	c.dVerify()
	c.kFinalized()

	// Every change is in the log: the negotiation's trace, once a signed checkpoint
	// covers it, gives each filing with its inclusion proof.
	wait, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.log.WaitCovered(wait, c.filed()); err != nil {
		t.Fatal(err)
	}
	trace := c.do("GET", "/api/v1/trace?subject="+c.id, c.operator, nil)
	wantStatus(t, trace, http.StatusOK)
	var moves []string
	for _, f := range trace.json(t)["items"].([]any) {
		filing := f.(map[string]any)
		payload := fmt.Sprint(filing["payload"])
		if !strings.Contains(payload, c.consumerPID) || !strings.Contains(payload, c.providerPID) || !strings.Contains(payload, c.dataset) {
			t.Errorf("filing %v does not name the negotiation", filing)
		}
		if subjects := fmt.Sprint(filing["subjects"]); !strings.Contains(subjects, c.buyerID) || !strings.Contains(subjects, c.kit.id) {
			t.Errorf("filing %v is not about the buyer and the peer", filing)
		}
		if filing["proof"] == nil || filing["proof"] == "" {
			t.Errorf("filing %v has no inclusion proof", filing["seq"])
		}
		moves = append(moves, fmt.Sprint(filing["type"]))
	}
	want := []string{"dsp.consumer_negotiation_requested", "dsp.consumer_negotiation_received", "dsp.consumer_negotiation_sent",
		"dsp.consumer_negotiation_received", "dsp.consumer_negotiation_sent", "dsp.consumer_negotiation_received"}
	if !slices.Equal(moves, want) {
		t.Fatalf("the negotiation's filings %v, want %v", moves, want)
	}
	// The buyer reads the filings about itself; the finalized one names the agreement
	// and the contract's hash.
	mine := string(c.do("GET", "/api/v1/filings?subject="+c.buyerID, c.buyer, nil).body)
	sum := sha256.Sum256([]byte(c.contract))
	if !strings.Contains(mine, `"state":"FINALIZED"`) || !strings.Contains(mine, hex.EncodeToString(sum[:])) || !strings.Contains(mine, "urn:kit:agreement:") {
		t.Fatalf("the buyer's filings do not show the finalized deal: %s", mine)
	}
}

// CN_C:01-02: Verify contract request, offer received, consumer counter-offer, provider terminated.
func TestTCK_CN_C_01_02(t *testing.T) {
	c := newCNCRun(t)
	c.dRequest()
	c.kOffer("600.00")
	c.dCounterRequest("550.00")
	c.kTerminate()
}

// CN_C:01-03: Verify contract request, offer received, consumer terminated.
func TestTCK_CN_C_01_03(t *testing.T) {
	c := newCNCRun(t)
	c.dRequest()
	c.kOffer("450.00")
	c.dTerminate()
}

// CN_C:01-04: Verify contract request, provider agreement, consumer verified, provider finalized.
func TestTCK_CN_C_01_04(t *testing.T) {
	c := newCNCRun(t)
	c.dRequest()
	c.kAgreement()
	c.dVerify()
	c.kFinalized()
}

// CN_C:02-01: Verify contract request, provider terminated.
func TestTCK_CN_C_02_01(t *testing.T) {
	c := newCNCRun(t)
	c.dRequest()
	c.kTerminate()
}

// CN_C:02-02: Verify contract request, consumer terminated.
func TestTCK_CN_C_02_02(t *testing.T) {
	c := newCNCRun(t)
	c.dRequest()
	c.dTerminate()
}

// CN_C:02-03: Verify contract request, provider agreement, consumer terminated.
func TestTCK_CN_C_02_03(t *testing.T) {
	c := newCNCRun(t)
	c.dRequest()
	c.kAgreement()
	c.dTerminate()
}

// CN_C:02-04: Verify contract request, offer received, provider terminated.
func TestTCK_CN_C_02_04(t *testing.T) {
	c := newCNCRun(t)
	c.dRequest()
	c.kOffer("450.00")
	c.kTerminate()
}

// CN_C:02-05: Verify contract request, offer received, consumer accepted, provider terminated.
func TestTCK_CN_C_02_05(t *testing.T) {
	c := newCNCRun(t)
	c.dRequest()
	c.kOffer("450.00")
	c.dAccept()
	c.kTerminate()
}

// CN_C:02-06: Verify contract request, provider agreement, consumer verified, provider terminated.
func TestTCK_CN_C_02_06(t *testing.T) {
	c := newCNCRun(t)
	c.dRequest()
	c.kAgreement()
	c.dVerify()
	c.kTerminate()
}

// CN_C:03-01: Verify contract request, invalid provider finalized.
func TestTCK_CN_C_03_01(t *testing.T) {
	c := newCNCRun(t)
	c.dRequest()
	c.refused(c.finalized(), dsp.NegotiationRequested)
	c.kAgreement() // still usable
}

// CN_C:03-02: Verify contract request, offer received, invalid provider agreed.
func TestTCK_CN_C_03_02(t *testing.T) {
	c := newCNCRun(t)
	c.dRequest()
	c.kOffer("450.00")
	c.refused(c.agreement(), dsp.NegotiationOffered)
	c.dAccept() // still usable
}

// CN_C:03-03: Verify contract request, offer received, invalid provider finalized.
func TestTCK_CN_C_03_03(t *testing.T) {
	c := newCNCRun(t)
	c.dRequest()
	c.kOffer("450.00")
	c.refused(c.finalized(), dsp.NegotiationOffered)
	c.dAccept()
}

// CN_C:03-04: Verify contract request, offer received, consumer accepted, invalid provider finalized.
func TestTCK_CN_C_03_04(t *testing.T) {
	c := newCNCRun(t)
	c.dRequest()
	c.kOffer("450.00")
	c.dAccept()
	c.refused(c.finalized(), dsp.NegotiationAccepted)
	c.kAgreement()
}

// CN_C:03-05: Verify contract request, offer received, consumer accepted, invalid provider offer.
func TestTCK_CN_C_03_05(t *testing.T) {
	c := newCNCRun(t)
	c.dRequest()
	c.kOffer("450.00")
	c.dAccept()
	c.refused(c.offer("420.00"), dsp.NegotiationAccepted)
	if got := payAmount(policyOf(t, c.wantState(dsp.NegotiationAccepted)["offer"])); got != "450.00" {
		t.Fatalf("the refused offer replaced the accepted one: %q", got)
	}
	c.kAgreement()
}

// CN_C:03-06: Verify contract request, offer received, consumer accepted, provider agreed, invalid provider finalized.
func TestTCK_CN_C_03_06(t *testing.T) {
	c := newCNCRun(t)
	c.dRequest()
	c.kOffer("450.00")
	c.dAccept()
	c.kAgreement()
	c.refused(c.finalized(), dsp.NegotiationAgreed)
	c.dVerify()
	c.kFinalized()
}

// Peers are the operator's: registered (201, 200 when replaced), read, listed and
// removed by the operator only; the token is never shown, and it is sealed at rest,
// opening with the exchange's sealing key only; filings never carry it.
func TestDSPPeers(t *testing.T) {
	w := newConsumerWorld(t)
	k := newKit(t, w.exchange, nil) // registered as a peer: 201
	path := "/api/v1/dsp/peers/" + k.id
	r := w.do("GET", path, w.operator, nil)
	wantStatus(t, r, http.StatusOK)
	if p := r.json(t); p["address"] != k.srv.URL+"/dsp" || p["has_token"] != true || strings.Contains(string(r.body), k.token) {
		t.Fatalf("peer %s", r.body)
	}
	list := w.do("GET", "/api/v1/dsp/peers", w.operator, nil)
	wantStatus(t, list, http.StatusOK)
	if items := list.json(t)["items"].([]any); len(items) != 1 || strings.Contains(string(list.body), k.token) {
		t.Fatalf("peers %s", list.body)
	}

	// Sealed at rest: the column holds neither the token nor its base64, and it opens
	// with the exchange's key (CredentialsFor), not with another.
	var sealed string
	if err := w.db.Read(context.Background(), func(tx *store.Tx) error {
		return tx.QueryRow(`SELECT token_sealed FROM dsp_peers WHERE participant_id = $1`, k.id).Scan(&sealed)
	}); err != nil {
		t.Fatal(err)
	}
	if sealed == "" || strings.Contains(sealed, k.token) || strings.Contains(sealed, base64.StdEncoding.EncodeToString([]byte(k.token))) {
		t.Fatalf("the token is not sealed at rest: %q", sealed)
	}
	peers, _ := dsp.NewPeers(w.db, w.sealKey)
	creds, err := peers.CredentialsFor(context.Background(), k.id)
	if err != nil || creds != dsp.BearerToken(k.token) {
		t.Fatalf("credentials %v, %v", creds, err)
	}
	other, _ := dsp.NewPeers(w.db, []byte(strings.Repeat("x", 32)))
	if _, err := other.CredentialsFor(context.Background(), k.id); err == nil {
		t.Fatal("the sealed token opened with another key")
	}
	if none, err := peers.CredentialsFor(context.Background(), w.buyerID); none != nil || err != nil {
		t.Fatalf("a participant without a peer: %v, %v", none, err)
	}

	// Replaced: 200; without a token, none is presented.
	r = w.do("POST", "/api/v1/dsp/peers", w.operator, map[string]any{"participant_id": k.id, "address": k.srv.URL + "/dsp/"})
	wantStatus(t, r, http.StatusOK)
	if p := r.json(t); p["has_token"] != false || p["address"] != k.srv.URL+"/dsp" {
		t.Fatalf("replaced %s", r.body)
	}
	if creds, err := peers.CredentialsFor(context.Background(), k.id); creds != nil || err != nil {
		t.Fatalf("credentials without a token: %v, %v", creds, err)
	}

	// Only the operator: a buyer is forbidden.
	wantProblem(t, w.do("POST", "/api/v1/dsp/peers", w.buyer, map[string]any{"participant_id": k.id, "address": "https://evil.example/dsp"}), http.StatusForbidden, "")
	wantProblem(t, w.do("GET", "/api/v1/dsp/peers", w.buyer, nil), http.StatusForbidden, "")
	wantProblem(t, w.do("GET", path, w.buyer, nil), http.StatusForbidden, "")
	wantProblem(t, w.do("DELETE", path, w.buyer, nil), http.StatusForbidden, "")
	wantProblem(t, w.do("GET", "/api/v1/dsp/peers", "", nil), http.StatusUnauthorized, "")

	// Bad input names the field and registers nothing.
	peersBefore, filingsBefore := w.count("dsp_peers"), w.count("filings")
	for _, address := range []string{"/dsp", "ftp://other.example/dsp", "https://user:pass@other.example/dsp", "https://other.example/dsp?x=1", "other.example"} {
		wantProblem(t, w.do("POST", "/api/v1/dsp/peers", w.operator, map[string]any{"participant_id": k.id, "address": address}), http.StatusBadRequest, "address")
	}
	wantProblem(t, w.do("POST", "/api/v1/dsp/peers", w.operator, map[string]any{"participant_id": "prt_nosuch", "address": "https://other.example/dsp"}), http.StatusBadRequest, "participant_id")
	wantProblem(t, w.do("POST", "/api/v1/dsp/peers", w.operator, map[string]any{"participant_id": k.id, "address": "https://other.example/dsp", "token": "two words"}), http.StatusBadRequest, "token")
	if w.count("dsp_peers") != peersBefore || w.count("filings") != filingsBefore {
		t.Fatal("a refused registration changed something")
	}

	// Removed: gone, filed; the filings never carry the token.
	wantStatus(t, w.do("DELETE", path, w.operator, nil), http.StatusOK)
	wantProblem(t, w.do("GET", path, w.operator, nil), http.StatusNotFound, "")
	wantProblem(t, w.do("DELETE", path, w.operator, nil), http.StatusNotFound, "")
	filings := w.do("GET", "/api/v1/filings?subject="+k.id, w.operator, nil)
	wantStatus(t, filings, http.StatusOK)
	var types []string
	for _, f := range filings.json(t)["items"].([]any) {
		types = append(types, f.(map[string]any)["type"].(string))
	}
	if !slices.Contains(types, "dsp.peer_registered") || !slices.Contains(types, "dsp.peer_removed") || strings.Contains(string(filings.body), k.token) {
		t.Fatalf("filings %v: %s", types, filings.body)
	}
}

// The callbacks answer 404, with a ContractNegotiationError, to an unknown consumer
// pid and to any caller but the negotiation's peer (another participant, no key, a
// bad key, the peer suspended), and change nothing.
func TestDSPConsumerCallbackNotFound(t *testing.T) {
	c := newCNCRun(t)
	c.dRequest()
	intruder := newKit(t, c.exchange, nil) // another registered connector with a key of its own
	notFound := func(r response) {
		t.Helper()
		wantStatus(t, r, http.StatusNotFound)
		var e dsp.ContractNegotiationError
		if err := dsp.Decode(r.body, &e); err != nil || e.Code != dsp.CodeNotFound || e.ProviderPID != "" {
			t.Fatalf("404 body %s (%v)", r.body, err)
		}
	}
	offer := &dsp.ContractOfferMessage{ProviderPID: c.providerPID, ConsumerPID: c.consumerPID, Offer: c.catalogOffer()}
	body, _ := dsp.Encode(offer)
	notFound(intruder.send("/negotiations/"+c.consumerPID+"/offers", offer))
	notFound(c.do("POST", "/dsp/callback/negotiations/"+c.consumerPID+"/offers", "", body))
	notFound(c.do("POST", "/dsp/callback/negotiations/"+c.consumerPID+"/offers", "dp.key_nosuch.secret", body))
	notFound(c.do("POST", "/dsp/callback/negotiations/"+c.consumerPID+"/offers", c.buyer, body)) // a participant, not the peer
	notFound(c.kit.send("/negotiations/"+dsp.ConsumerNegotiationPIDPrefix+"cneg_nosuch/offers", offer))
	notFound(c.do("GET", "/dsp/callback/negotiations/"+c.consumerPID, intruder.key, nil))
	c.wantState(dsp.NegotiationRequested)

	// A suspended peer loses access at once; resumed, it has it again.
	wantStatus(t, c.do("POST", "/api/v1/participants/"+c.kit.id+"/suspend", c.operator, map[string]any{"reason": "叫停: investigation"}), http.StatusOK)
	notFound(c.offer("450.00"))
	c.wantState(dsp.NegotiationRequested)
	wantStatus(t, c.do("POST", "/api/v1/participants/"+c.kit.id+"/resume", c.operator, map[string]any{}), http.StatusOK)
	get := c.do("GET", "/dsp/callback/negotiations/"+c.consumerPID, c.kit.key, nil)
	var n dsp.ContractNegotiation
	if wantStatus(t, get, http.StatusOK); dsp.Decode(get.body, &n) != nil || n.State != dsp.NegotiationRequested || n.ProviderPID != c.providerPID {
		t.Fatalf("GET %s", get.body)
	}
	c.kOffer("450.00")
	c.kit.none()
}

// Invalid messages at the callbacks are refused with 400 and INVALID_MESSAGE naming the
// problem, and change nothing: not the endpoint's message, not valid, pids not the
// negotiation's, an offer or agreement of another dataset, an agreement whose contract
// is not the one its hash names. A provider's ACCEPTED is the consumer's move.
func TestDSPConsumerInvalidCallbacks(t *testing.T) {
	c := newCNCRun(t)
	c.dRequest()
	post := func(suffix string, body any) response {
		return c.do("POST", "/dsp/callback/negotiations/"+c.consumerPID+suffix, c.kit.key, body)
	}
	finalized, _ := dsp.Encode(&dsp.ContractNegotiationEventMessage{ProviderPID: c.providerPID, ConsumerPID: c.consumerPID, EventType: dsp.EventFinalized})
	c.wantError(post("/offers", finalized), http.StatusBadRequest, dsp.CodeInvalidMessage)
	c.wantError(post("/offers", `{"@context": ["https://w3id.org/dspace/2025/1/context.jsonld"], "@type": "ContractOfferMessage"}`), http.StatusBadRequest, dsp.CodeInvalidMessage)
	c.wantError(post("/agreement", "not json"), http.StatusBadRequest, dsp.CodeInvalidMessage)
	wrongPID := &dsp.ContractOfferMessage{ProviderPID: "urn:kit:negotiation:other", ConsumerPID: c.consumerPID, Offer: c.catalogOffer()}
	e := c.wantError(c.kit.send("/negotiations/"+c.consumerPID+"/offers", wrongPID), http.StatusBadRequest, dsp.CodeInvalidMessage)
	if !strings.Contains(fmt.Sprint(e.Reason), "providerPid") {
		t.Fatalf("reasons %v", e.Reason)
	}
	otherDataset := c.catalogOffer()
	otherDataset.Target = kitDataset("fuel")
	c.wantError(c.kit.send("/negotiations/"+c.consumerPID+"/offers", &dsp.ContractOfferMessage{ProviderPID: c.providerPID, ConsumerPID: c.consumerPID, Offer: otherDataset}),
		http.StatusBadRequest, dsp.CodeInvalidMessage)
	forged := c.agreementMessage()
	forged.Agreement.Extra[dsp.PropContractSHA256] = strings.Repeat("0", 64)
	e = c.wantError(c.kit.send("/negotiations/"+c.consumerPID+"/agreement", forged), http.StatusBadRequest, dsp.CodeInvalidMessage)
	if !strings.Contains(fmt.Sprint(e.Reason), "SHA-256") {
		t.Fatalf("reasons %v", e.Reason)
	}
	foreign := c.agreementMessage()
	foreign.Agreement.Target = kitDataset("fuel")
	c.wantError(c.kit.send("/negotiations/"+c.consumerPID+"/agreement", foreign), http.StatusBadRequest, dsp.CodeInvalidMessage)
	accepted := &dsp.ContractNegotiationEventMessage{ProviderPID: c.providerPID, ConsumerPID: c.consumerPID, EventType: dsp.EventAccepted}
	c.refused(c.kit.send("/negotiations/"+c.consumerPID+"/events", accepted), dsp.NegotiationRequested)
	var agreement string
	if err := c.db.Read(context.Background(), func(tx *store.Tx) error {
		return tx.QueryRow(`SELECT agreement FROM dsp_consumer_negotiations WHERE id = $1`, c.id).Scan(&agreement)
	}); err != nil || agreement != "" {
		t.Fatalf("a refused agreement was kept: %q %v", agreement, err)
	}
	c.wantState(dsp.NegotiationRequested)
	c.kAgreement() // the negotiation is still usable
}

// A request the provider refuses, or that cannot reach it, is an error for the buyer
// that says why, and leaves nothing behind: no negotiation, no filing.
func TestDSPConsumerProviderRefuses(t *testing.T) {
	c := newCNCRun(t)
	down := newKit(t, c.exchange, nil) // a peer whose connector is down
	down.srv.Close()
	rows, filings := c.count("dsp_consumer_negotiations"), c.count("filings")
	c.kit.refuse(&dsp.ContractNegotiationError{Code: dsp.CodeInvalidMessage, Reason: []any{"the kit offers no such thing"}})
	r := c.do("POST", "/api/v1/dsp/consumer/negotiations", c.buyer, map[string]any{"peer_id": c.kit.id, "offer": c.catalogOffer()})
	if p := wantProblem(t, r, http.StatusBadRequest, ""); !strings.Contains(fmt.Sprint(p["detail"]), "the kit offers no such thing") {
		t.Fatalf("the refusal does not say why: %v", p)
	}
	if _, ok := c.kit.next().(*dsp.ContractRequestMessage); !ok {
		t.Fatal("the kit got no request")
	}

	r = c.do("POST", "/api/v1/dsp/consumer/negotiations", c.buyer, map[string]any{"peer_id": down.id, "offer": c.catalogOffer()})
	wantProblem(t, r, http.StatusServiceUnavailable, "")
	if c.count("dsp_consumer_negotiations") != rows || c.count("filings") != filings {
		t.Fatalf("a refused request left %d negotiations, %d filings", c.count("dsp_consumer_negotiations")-rows, c.count("filings")-filings)
	}

	// The kit takes requests again; a move it refuses is reported and changes nothing.
	c.kit.refuse(nil)
	c.dRequest()
	c.kit.srv.Close()
	wantProblem(t, c.do("POST", c.path("/terminate"), c.buyer, map[string]any{"reason": "enough"}), http.StatusServiceUnavailable, "")
	if n := c.negotiation(c.do("GET", c.path(""), c.buyer, nil), http.StatusOK); n["state"] != string(dsp.NegotiationRequested) {
		t.Fatalf("an unacknowledged termination changed the state: %v", n["state"])
	}
}

// The REST endpoints check role and tenant: only buyers request, for themselves; a
// negotiation is its buyer's (others: 404), which the operator and regulators may read
// but not move; a move the state does not admit is refused before anything is sent;
// bad input names the field.
func TestDSPConsumerRESTAuthorization(t *testing.T) {
	c := newCNCRun(t)
	base := "/api/v1/dsp/consumer/negotiations"
	body := map[string]any{"peer_id": c.kit.id, "offer": c.catalogOffer()}
	_, supplier := c.createWithKey(with(with(tencent, "uscc", mustUSCC("91310101MA1G8PJ03")), "roles", []string{"supplier"}))
	wantProblem(t, c.do("POST", base, supplier, body), http.StatusForbidden, "")
	wantProblem(t, c.do("POST", base, c.buyer, with(body, "buyer_id", c.kit.id)), http.StatusForbidden, "")
	wantProblem(t, c.do("POST", base, c.buyer, with(body, "peer_id", "prt_nosuch")), http.StatusBadRequest, "peer_id")
	untargeted := c.catalogOffer()
	untargeted.Target = ""
	wantProblem(t, c.do("POST", base, c.buyer, with(body, "offer", untargeted)), http.StatusBadRequest, "offer.target")
	wantProblem(t, c.do("POST", base, c.buyer, with(body, "offer", map[string]any{"@id": "urn:x", "target": c.dataset})), http.StatusBadRequest, "")
	if c.count("dsp_consumer_negotiations") != 0 {
		t.Fatal("a refused request was stored")
	}
	c.kit.none()

	c.dRequest()
	c.restRefused(c.accept(), dsp.NegotiationRequested)
	c.restRefused(c.verify(false), dsp.NegotiationRequested)
	c.restRefused(c.counterRequest("400.00"), dsp.NegotiationRequested)

	_, other := c.createWithKey(with(tencent, "uscc", mustUSCC("91110000MA01ABCD1")))
	wantProblem(t, c.do("GET", c.path(""), other, nil), http.StatusNotFound, "")
	wantProblem(t, c.do("POST", c.path("/terminate"), other, map[string]any{"reason": "not mine"}), http.StatusNotFound, "")
	if items := c.do("GET", base, other, nil).json(t)["items"].([]any); len(items) != 0 {
		t.Fatalf("another buyer lists %v", items)
	}
	if items := c.do("GET", base, c.buyer, nil).json(t)["items"].([]any); len(items) != 1 || items[0].(map[string]any)["id"] != c.id {
		t.Fatalf("the buyer lists %v", items)
	}
	if items := c.do("GET", base, c.operator, nil).json(t)["items"].([]any); len(items) != 1 {
		t.Fatalf("the operator lists %v", items)
	}
	wantStatus(t, c.do("GET", c.path(""), c.operator, nil), http.StatusOK)
	wantProblem(t, c.do("POST", c.path("/terminate"), c.operator, map[string]any{"reason": "the operator's"}), http.StatusForbidden, "")
	wantProblem(t, c.do("POST", c.path("/terminate"), c.buyer, map[string]any{"reason": ""}), http.StatusBadRequest, "reason")
	c.kit.none()

	// A verification is bare without a signature, and both halves of one come together.
	c.kAgreement()
	wantProblem(t, c.do("POST", c.path("/verify"), c.buyer, map[string]any{"key_id": "ed25519:x"}), http.StatusBadRequest, "signature")
	c.negotiation(c.verify(false), http.StatusOK)
	m, ok := c.kit.next().(*dsp.ContractAgreementVerificationMessage)
	if !ok || m.SigningKey != "" || m.Signature != "" {
		t.Fatalf("a bare verification %+v", m)
	}
	c.wantState(dsp.NegotiationVerified)

	// A suspended buyer loses access at once.
	wantStatus(t, c.do("POST", "/api/v1/participants/"+c.buyerID+"/suspend", c.operator, map[string]any{"reason": "叫停"}), http.StatusOK)
	wantProblem(t, c.do("POST", c.path("/terminate"), c.buyer, map[string]any{"reason": "too late"}), http.StatusForbidden, "")
	wantProblem(t, c.do("POST", base, c.buyer, body), http.StatusForbidden, "")
	c.kit.none()
}

// A provider-initiated negotiation (an offer to <callback>/negotiations/offers) is
// refused with the protocol's error saying why, and nothing is stored; its sender must
// be authenticated as any caller.
func TestDSPConsumerInitialOfferRefused(t *testing.T) {
	c := newCNCRun(t)
	offer := &dsp.ContractOfferMessage{ProviderPID: "urn:kit:negotiation:initial", Offer: c.catalogOffer(), CallbackAddress: c.kit.srv.URL + "/dsp"}
	r := c.kit.send("/negotiations/offers", offer)
	wantStatus(t, r, http.StatusBadRequest)
	var e dsp.ContractNegotiationError
	if err := dsp.Decode(r.body, &e); err != nil || e.ProviderPID != offer.ProviderPID || !strings.Contains(fmt.Sprint(e.Reason), "provider-initiated") {
		t.Fatalf("refusal %s (%v)", r.body, err)
	}
	body, _ := dsp.Encode(offer)
	wantStatus(t, c.do("POST", "/dsp/callback/negotiations/offers", "", body), http.StatusNotFound)
	wantStatus(t, c.kit.send("/negotiations/offers", &dsp.ContractNegotiationEventMessage{ProviderPID: "x", ConsumerPID: "y", EventType: dsp.EventFinalized}), http.StatusBadRequest)
	if c.count("dsp_consumer_negotiations") != 0 {
		t.Fatal("an initial offer was stored")
	}
}

// A buyer reads a peer's catalog through the REST API: every page, with the peer's
// token, each dataset with its offers; others than buyers may not.
func TestDSPConsumerRemoteCatalog(t *testing.T) {
	c := newCNCRun(t)
	r := c.do("GET", "/api/v1/dsp/peers/"+c.kit.id+"/catalog", c.buyer, nil)
	wantStatus(t, r, http.StatusOK)
	cat := r.json(t)
	var ids []string
	for _, d := range cat["datasets"].([]any) {
		ds := d.(map[string]any)
		ids = append(ids, ds["@id"].(string))
		if offers, _ := ds["hasPolicy"].([]any); len(offers) != 1 || offers[0].(map[string]any)["@id"] != strings.Replace(ds["@id"].(string), "dataset", "offer", 1) {
			t.Errorf("dataset %v", ds)
		}
	}
	if !slices.Equal(ids, []string{kitDataset("tides"), kitDataset("berths"), kitDataset("fuel")}) || cat["pages"] != float64(2) ||
		cat["truncated"] != false || cat["participant_id"] != "did:web:kit.example" || cat["peer_id"] != c.kit.id {
		t.Fatalf("catalog %s", r.body)
	}
	for range 2 {
		if _, ok := c.kit.next().(*dsp.CatalogRequestMessage); !ok {
			t.Fatal("the kit got no catalog request")
		}
	}
	c.kit.none()
	_, supplier := c.createWithKey(with(with(tencent, "uscc", mustUSCC("91310101MA1G8PJ03")), "roles", []string{"supplier"}))
	wantProblem(t, c.do("GET", "/api/v1/dsp/peers/"+c.kit.id+"/catalog", supplier, nil), http.StatusForbidden, "")
	wantProblem(t, c.do("GET", "/api/v1/dsp/peers/prt_nosuch/catalog", c.buyer, nil), http.StatusNotFound, "")
	c.kit.none()

	// An offer of the catalog, with its dataset as target, opens a negotiation.
	c.dRequest()
}

// The harvest engine reads a peer's catalog as a DCAT source located at
// dsp:<participant id>: registered and run through the REST API, each dataset becomes a
// product of the peer's participant, and a second run finds nothing changed.
func TestDSPConsumerHarvest(t *testing.T) {
	w := newConsumerWorld(t)
	k := newKit(t, w.exchange, harvestDomestic())
	wantStatus(t, w.do("POST", "/api/v1/participants/"+k.id+"/kyc", w.operator, map[string]any{"status": "verified"}), http.StatusOK)
	report := w.upload("POST", "/api/v1/attachments?name=assessment.pdf", k.key, "application/pdf", []byte("%PDF assessment of the kit's catalog"))
	wantStatus(t, report, http.StatusCreated)
	r := w.do("POST", "/api/v1/harvest/sources", w.operator, map[string]any{"name": "Kit connector", "kind": "dcat", "location": dsppeer.Location(k.id),
		"supplier_id": k.id, "settings": map[string]any{"scenarios": []string{"research"}, "compliance_report": report.json(t)["sha256"], "category": "shipping"}})
	wantStatus(t, r, http.StatusCreated)
	src := r.json(t)["id"].(string)
	wantProblem(t, w.do("POST", "/api/v1/harvest/sources", w.operator, map[string]any{"name": "Nobody", "kind": "dcat", "location": dsppeer.Location("prt_nosuch"),
		"supplier_id": k.id, "settings": map[string]any{"scenarios": []string{"research"}, "compliance_report": report.json(t)["sha256"], "category": "shipping"}}), http.StatusBadRequest, "location")

	run := func() map[string]any {
		t.Helper()
		r := w.do("POST", "/api/v1/harvest/sources/"+src+"/runs", w.operator, nil)
		wantStatus(t, r, http.StatusOK)
		ls := lines(r.body)
		var last map[string]any
		if err := json.Unmarshal([]byte(ls[len(ls)-1]), &last); err != nil || last["report"] == nil || last["error"] != nil {
			t.Fatalf("run: %s (%v)", r.body, err)
		}
		return last["report"].(map[string]any)
	}
	if rep := run(); rep["status"] != "succeeded" || rep["records"] != float64(3) || rep["added"] != float64(3) || rep["failed"] != float64(0) {
		t.Fatalf("first run %v", rep)
	}
	products := w.do("GET", "/api/v1/participants/"+k.id+"/products", w.operator, nil)
	wantStatus(t, products, http.StatusOK)
	for _, title := range []string{"Tide gauges, hourly", "Berth occupancy", "Bunker fuel prices"} {
		if !strings.Contains(string(products.body), title) {
			t.Errorf("no product %q: %s", title, products.body)
		}
	}
	if rep := run(); rep["unchanged"] != float64(3) || rep["added"] != float64(0) {
		t.Fatalf("second run %v", rep)
	}
	for range 4 {
		if _, ok := k.next().(*dsp.CatalogRequestMessage); !ok {
			t.Fatal("the kit got no catalog request")
		}
	}
	k.none()
}

// A negotiation on each storage engine: counter-offers both ways, a refused message,
// agreement, verification and finalisation, and the buyer's list.
func TestDSPConsumerNegotiationEngines(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		c := newCNCRunOn(t, engine)
		c.dRequest()
		c.kOffer("600.00")
		c.dCounterRequest("500.00")
		c.kOffer("550.00")
		c.dAccept()
		c.refused(c.offer("540.00"), dsp.NegotiationAccepted)
		c.kAgreement()
		c.dVerify()
		c.kFinalized()
		items := c.do("GET", "/api/v1/dsp/consumer/negotiations?limit=10", c.buyer, nil).json(t)["items"].([]any)
		if len(items) != 1 || items[0].(map[string]any)["state"] != string(dsp.NegotiationFinalized) {
			t.Fatalf("the buyer's negotiations %v", items)
		}
	})
}
