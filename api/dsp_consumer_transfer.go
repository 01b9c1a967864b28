package api

import (
	"context"
	"io"
	"net/http"
	"net/url"

	"github.com/danielgtaylor/huma/v2"
	"github.com/dataport/dataport"
	"github.com/dataport/dataport/blob"
	"github.com/dataport/dataport/dsp"
)

// The Transfer Process Protocol, dataport the consumer (dsp.ConsumerTransfers,
// dsp/consumertransfer.go): a local buyer asks a peer's provider for the data of a
// finalized consumer negotiation's agreement through the REST API; the provider's
// messages arrive at the callback endpoints under dspPath (authenticated as every
// protocol request is, dspAuth); the data is pulled into the blob store in the
// background, and the buyer downloads it from the REST API.

// newDSPConsumerTransfers makes the server's one consumer transfer service: it holds
// the pulls under way, which serve resumes at startup (DSPConsumerTransfers().Resume)
// and stops at shutdown (Close).
func (s *Server) newDSPConsumerTransfers() *dsp.ConsumerTransfers {
	ct := &dsp.ConsumerTransfers{
		Auth:         s.dspAuth(),
		DB:           s.DB,
		Blobs:        s.Blobs,
		Client:       &dsp.Client{HTTP: s.dspHTTP()},
		AutoComplete: s.DSPAutoComplete,
		Logger:       s.Logger,
	}
	// The data is fetched through the same guarded dialer as every address a
	// participant gives (dspHTTP), without the overall timeout a large file cannot meet.
	out := s.dspHTTP()
	ct.HTTP = &http.Client{Transport: out.Transport, CheckRedirect: out.CheckRedirect}
	if len(s.DSPSealKey) > 0 {
		sealer, err := dsp.NewSealer(s.DSPSealKey)
		if err != nil { // dspPeers says so too: nothing can be sealed
			s.Logger.Error("dsp consumer transfers: the DSP sealing key", "error", err)
		}
		ct.Sealer = sealer
	}
	ct.Peers = s.dspPeers()
	return ct
}

// DSPConsumerTransfers is the consumer transfer service: serve calls its Resume at
// startup and its Close at shutdown.
func (s *Server) DSPConsumerTransfers() *dsp.ConsumerTransfers { return s.dspConsumerTransfers }

// dspCallbackAddress is the callback address dataport gives a provider: <root>/dsp/callback,
// the root being the address the request came to.
func dspCallbackAddress(root string) string { return root + dspPath + "/callback" }

// dspConsumerTransferRoutes mounts the REST endpoints and the provider's callbacks.
func (s *Server) dspConsumerTransferRoutes(mux *http.ServeMux) {
	ct := s.dspConsumerTransfers
	const base = "/api/v1/dsp/consumer/transfers"
	register(s, http.MethodPost, "request-consumer-transfer", base, "Ask a peer's provider for the data of a FINALIZED consumer negotiation's agreement (the buyer): the Transfer Request Message is sent, the transfer recorded once the provider answers; a pull format's data is pulled into the exchange when the provider starts it", "dsp", s.requestConsumerTransfer, created)
	get(s, "list-consumer-transfers", base, "The caller's transfers as consumer, newest first (the operator and regulators: all)", "dsp", s.listConsumerTransfers)
	get(s, "get-consumer-transfer", base+"/{id}", "A transfer as consumer: its state, the moves the buyer may make, the pull's state and the files pulled, with their SHA-256", "dsp", s.getConsumerTransfer)
	for _, m := range []struct{ name, summary string }{
		{"suspend", "Suspend the transfer (the buyer): sent to the provider; once acknowledged, the pull stops"},
		{"start", "Restart a suspended transfer (the buyer): sent to the provider; once acknowledged, what is missing is pulled"},
		{"complete", "Complete the transfer (the buyer): sent to the provider, recorded once acknowledged"},
		{"terminate", "Terminate the transfer (the buyer): sent to the provider; once acknowledged, the pull stops"},
	} {
		move, _ := dsp.ConsumerMove(m.name)
		register(s, http.MethodPost, m.name+"-consumer-transfer", base+"/{id}/"+m.name, m.summary, "dsp", s.moveConsumerTransfer(move))
	}
	// A pulled file, for its buyer: a plain handler, as the file's path is the rest of the URL.
	mux.HandleFunc("GET "+base+"/{id}/files/{path...}", s.downloadConsumerFile)

	// The provider's messages (DSP 2025-1, "Transfer Process HTTPS Binding", the
	// consumer's callback endpoints).
	mux.HandleFunc("POST "+dspPath+"/callback/transfers/{consumerPid}/start", ct.ServeStart)
	mux.HandleFunc("POST "+dspPath+"/callback/transfers/{consumerPid}/completion", ct.ServeCompletion)
	mux.HandleFunc("POST "+dspPath+"/callback/transfers/{consumerPid}/suspension", ct.ServeSuspension)
	mux.HandleFunc("POST "+dspPath+"/callback/transfers/{consumerPid}/termination", ct.ServeTermination)
}

type consumerTransferOutput struct {
	Location string `header:"Location"`
	Body     dsp.ConsumerTransfer
}

func (s *Server) consumerTransfer(t dsp.ConsumerTransfer, err error) (*consumerTransferOutput, error) {
	if err != nil {
		return nil, s.problem(err)
	}
	return &consumerTransferOutput{Body: t}, nil
}

type requestConsumerTransferInput struct {
	Body dsp.NewConsumerTransfer
	root string
}

// Resolve takes the address the request came to: the callback address's root.
func (in *requestConsumerTransferInput) Resolve(ctx huma.Context) []error {
	scheme := "http"
	if ctx.TLS() != nil {
		scheme = "https"
	}
	in.root = scheme + "://" + ctx.Host()
	return nil
}

func (s *Server) requestConsumerTransfer(ctx context.Context, in *requestConsumerTransferInput) (*consumerTransferOutput, error) {
	out, err := s.consumerTransfer(s.dspConsumerTransfers.Request(ctx, actorOf(ctx), in.Body, dspCallbackAddress(in.root)))
	if out != nil {
		out.Location = "/api/v1/dsp/consumer/transfers/" + url.PathEscape(out.Body.ID)
	}
	return out, err
}

type consumerTransferPath struct {
	ID string `path:"id" maxLength:"100" doc:"the transfer's id"`
}

func (s *Server) getConsumerTransfer(ctx context.Context, in *consumerTransferPath) (*consumerTransferOutput, error) {
	return s.consumerTransfer(s.dspConsumerTransfers.Get(ctx, actorOf(ctx), in.ID))
}

type consumerTransfersOutput struct {
	Body struct {
		Items []dsp.ConsumerTransfer `json:"items"`
	}
}

func (s *Server) listConsumerTransfers(ctx context.Context, _ *struct{}) (*consumerTransfersOutput, error) {
	ts, err := s.dspConsumerTransfers.List(ctx, actorOf(ctx))
	if err != nil {
		return nil, s.problem(err)
	}
	out := &consumerTransfersOutput{}
	out.Body.Items = ts
	return out, nil
}

type moveConsumerTransferInput struct {
	ID   string `path:"id" maxLength:"100" doc:"the transfer's id"`
	Body *dsp.MoveReason
}

func (s *Server) moveConsumerTransfer(move dsp.TransferMove) func(context.Context, *moveConsumerTransferInput) (*consumerTransferOutput, error) {
	return func(ctx context.Context, in *moveConsumerTransferInput) (*consumerTransferOutput, error) {
		var why dsp.MoveReason
		if in.Body != nil {
			why = *in.Body
		}
		return s.consumerTransfer(s.dspConsumerTransfers.Move(ctx, actorOf(ctx), in.ID, move, why))
	}
}

// downloadConsumerFile streams a pulled file to its buyer, with Range support. The
// ETag is the file's SHA-256, verified when it was pulled, and Repr-Digest (RFC 9530)
// carries it too.
func (s *Server) downloadConsumerFile(w http.ResponseWriter, r *http.Request) {
	f, o, err := s.dspConsumerTransfers.OpenFile(r.Context(), actorOf(r.Context()), r.PathValue("id"), r.PathValue("path"))
	if err != nil {
		kind := dataport.KindOf(err)
		if kind == dataport.KindInternal || kind == dataport.KindUnavailable {
			s.Logger.Error("consumer transfer download", "error", err)
		}
		writeProblem(w, statusOf(kind), dataport.MessageOf(err))
		return
	}
	defer o.Close()
	fileHeaders(w.Header(), f.SHA256, f.MediaType, f.Path)
	var content io.ReadSeeker = o
	if fb, ok := o.(blob.FileBacked); ok {
		content = fb.OSFile() // sendfile(2), as the deal downloads do
	}
	http.ServeContent(w, r, "", f.PulledAt, content)
}
