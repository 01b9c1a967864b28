package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/dsp"
)

// The Transfer Process Protocol, dataport the provider (dsp.TransferService; dsp/doc.go,
// "Transfers are deliveries"): a consumer's connector asks under dspPath for the files
// of a finalized deal it bought, the supplier (or its agent) starts, suspends, completes
// or terminates the transfer through the REST API, or dataport starts a pull itself
// (DSPTransferOptions.AutoStart), and the started pull's data address serves the deal's
// manifest and files, each download one delivery to the buyer, as the REST download's.

// DSPTransferOptions configure the Transfer Process Protocol's provider side.
type DSPTransferOptions struct {
	// AutoStart starts a pull as soon as its request is acknowledged (serve's default);
	// off, the supplier or its agent starts it (POST /api/v1/dsp/provider/transfers/{pid}/start).
	AutoStart bool
	// Peers gives the credentials for a consumer's callback address; nil: the
	// exchange's registered DSP peers (dsp.Peers: the token each peer's connector issued
	// to this exchange, none for a consumer that is no peer).
	Peers dsp.PeerCredentials
	// Root is the exchange's public URL, which data addresses begin with; empty, the
	// address the consumer's transfer request reached.
	Root string
	// Backoff is how long the periodic sender waits after a failed post before it
	// posts that transfer's message again, doubled with each further failure up to an
	// hour; 0: at every pass.
	Backoff time.Duration
}

// newDSPTransfers makes the server's one transfer service: it keeps no state but the
// store's, and serialises the posting of each transfer's messages. Its messages leave
// through the guarded client every protocol request to a participant's address does
// (dspHTTP).
func (s *Server) newDSPTransfers() *dsp.TransferService {
	o := s.DSPTransfer
	if o.Peers == nil {
		o.Peers = s.dspPeers()
	}
	return &dsp.TransferService{
		Auth:      s.dspAuth(),
		DB:        s.DB,
		Trade:     s.Trade,
		Client:    &dsp.Client{HTTP: s.dspHTTP()},
		Peers:     o.Peers,
		Path:      dspPath,
		Root:      o.Root,
		AutoStart: o.AutoStart,
		Backoff:   o.Backoff,
		Logger:    s.Logger,
	}
}

// DSPTransferService is the Transfer Process Protocol's provider side the server
// serves: serve runs its SendOwed periodically (dsp.SendOwedEvery).
func (s *Server) DSPTransferService() *dsp.TransferService { return s.dspTransfers }

// dspSendTimeout bounds posting what a transfer owes its consumer after a REST move:
// at most two messages (a start the consumer missed, then the move's).
const dspSendTimeout = 2 * dspCallbackTimeout

// The data plane: <base>/data/{providerPid} is a started pull's data address.

// dspPull authorises a request to a data address (dsp.TransferService.Authorize); a
// refusal is 401 with WWW-Authenticate (RFC 6750) and no byte of the deal's data.
func (s *Server) dspPull(w http.ResponseWriter, r *http.Request) (dsp.Pull, bool) {
	pull, err := s.dspTransfers.Authorize(r, r.PathValue("providerPid"))
	if err == nil {
		return pull, true
	}
	if dataport.KindOf(err) == dataport.KindUnauthorized {
		challenge := `Bearer realm="dataport"`
		if r.Header.Get("Authorization") != "" {
			challenge += `, error="invalid_token"`
		}
		w.Header().Set("WWW-Authenticate", challenge)
	}
	s.dataProblem(w, err)
	return dsp.Pull{}, false
}

// dataProblem answers a data-plane request that failed with a problem (RFC 9457).
func (s *Server) dataProblem(w http.ResponseWriter, err error) {
	kind := dataport.KindOf(err)
	if kind == dataport.KindInternal || kind == dataport.KindUnavailable {
		s.Logger.Error("dsp data address", "kind", kind.String(), "err", err)
	}
	writeProblem(w, statusOf(kind), dataport.MessageOf(err))
}

// dspDataManifest serves GET <base>/data/{providerPid}: the deal's manifest (paths,
// SHA-256 and sizes of its files, the Merkle root and its filing), which tells the
// consumer what to pull and how to check it. Reading it counts no use.
func (s *Server) dspDataManifest(w http.ResponseWriter, r *http.Request) {
	pull, ok := s.dspPull(w, r)
	if !ok {
		return
	}
	m, err := s.Delivery.DealManifest(r.Context(), pull.Buyer, pull.DealID)
	if err != nil {
		s.dataProblem(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "private, no-store")
	if err := json.NewEncoder(w).Encode(m); err != nil {
		s.Logger.Warn("dsp data address: writing the manifest", "err", err)
	}
}

// dspDataFile serves GET <base>/data/{providerPid}/{path...}: a file of the deal's
// manifest, exactly as the REST download serves it (openDownload, sendDownload): a
// fresh GET is one delivery to the buyer (a use of the entitlement, filed), a Range
// from a later offset resumes it, HEAD peeks; the ETag is the file's SHA-256.
func (s *Server) dspDataFile(w http.ResponseWriter, r *http.Request) {
	pull, ok := s.dspPull(w, r)
	if !ok {
		return
	}
	d, err := s.openDownload(r.Context(), pull.Buyer, pull.DealID, r.PathValue("path"), r.Method == http.MethodHead, r.Header.Get("Range"))
	var bad *unsatisfiableRange
	if errors.As(err, &bad) {
		w.Header().Set("Content-Range", bad.contentRange())
		writeProblem(w, http.StatusRequestedRangeNotSatisfiable, bad.Error())
		return
	}
	if err != nil {
		s.dataProblem(w, err)
		return
	}
	s.sendDownload(r.Context(), w, r, pull.Buyer, d)
}

// The REST API: the supplier's (or agent's) view and moves of its deals' transfers.

type dspTransferOutput struct {
	Body dsp.Transfer
}

type dspTransfersOutput struct {
	Body struct {
		Items []dsp.Transfer `json:"items"`
	}
}

type dspTransferPath struct {
	PID string `path:"pid" maxLength:"200" doc:"the transfer's provider pid (urn:dataport:transfer:…)"`
}

type dspTransferReasonInput struct {
	PID  string `path:"pid" maxLength:"200" doc:"the transfer's provider pid (urn:dataport:transfer:…)"`
	Body *struct {
		Reason string `json:"reason,omitempty" maxLength:"1000" doc:"why: the message's reason, sent to the consumer"`
	}
}

func (in *dspTransferReasonInput) reason() string {
	if in.Body == nil {
		return ""
	}
	return in.Body.Reason
}

func (s *Server) dealDSPTransfers(ctx context.Context, in *dealPath) (*dspTransfersOutput, error) {
	ts, err := s.dspTransfers.OfDeal(ctx, actorOf(ctx), in.ID)
	if err != nil {
		return nil, s.problem(err)
	}
	out := &dspTransfersOutput{}
	out.Body.Items = ts
	return out, nil
}

func (s *Server) getDSPTransfer(ctx context.Context, in *dspTransferPath) (*dspTransferOutput, error) {
	t, err := s.dspTransfers.Get(ctx, actorOf(ctx), in.PID)
	if err != nil {
		return nil, s.problem(err)
	}
	return &dspTransferOutput{Body: t}, nil
}

// moveDSPTransfer makes the provider's move and then posts its message to the
// consumer's callback address; the answer is the transfer after both, whose told says
// whether the consumer heard of it (a failed post is logged and left to the periodic
// sender).
func (s *Server) moveDSPTransfer(ctx context.Context, pid string, move dsp.TransferMove, reason string) (*dspTransferOutput, error) {
	actor := actorOf(ctx)
	if _, err := s.dspTransfers.Move(ctx, actor, pid, move, reason); err != nil {
		return nil, s.problem(err)
	}
	sending, cancel := context.WithTimeout(context.WithoutCancel(ctx), dspSendTimeout)
	defer cancel()
	if err := s.dspTransfers.Send(sending, pid); err != nil {
		s.Logger.WarnContext(sending, "dsp transfer: telling the consumer", "pid", pid, "error", err)
	}
	t, err := s.dspTransfers.Get(ctx, actor, pid)
	if err != nil {
		return nil, s.problem(err)
	}
	return &dspTransferOutput{Body: t}, nil
}

func (s *Server) startDSPTransfer(ctx context.Context, in *dspTransferPath) (*dspTransferOutput, error) {
	return s.moveDSPTransfer(ctx, in.PID, dsp.MoveTransferStart, "")
}

func (s *Server) suspendDSPTransfer(ctx context.Context, in *dspTransferReasonInput) (*dspTransferOutput, error) {
	return s.moveDSPTransfer(ctx, in.PID, dsp.MoveTransferSuspension, in.reason())
}

func (s *Server) completeDSPTransfer(ctx context.Context, in *dspTransferPath) (*dspTransferOutput, error) {
	return s.moveDSPTransfer(ctx, in.PID, dsp.MoveTransferCompletion, "")
}

func (s *Server) terminateDSPTransfer(ctx context.Context, in *dspTransferReasonInput) (*dspTransferOutput, error) {
	return s.moveDSPTransfer(ctx, in.PID, dsp.MoveTransferTermination, in.reason())
}
