package api

import (
	"context"
	"net/http"
	"net/url"

	"github.com/danielgtaylor/huma/v2"
	"github.com/dataport/dataport/dsp"
)

// The Dataspace Protocol, dataport the consumer (dsp/peers.go, dsp/consumer.go): the
// operator registers the connectors the exchange talks to as peers; a buyer reads a
// peer's catalog and negotiates a contract with its provider through the REST API; the
// provider's messages arrive at the consumer's callback endpoints under dspPath
// (authenticated as every protocol request is, dspAuth, and answered in the protocol's
// messages).

// dspPeers is the exchange's peers, their tokens sealed with the server's DSP sealing
// key. The service holds no state of its own, so one is made where needed.
func (s *Server) dspPeers() *dsp.Peers {
	p, err := dsp.NewPeers(s.DB, s.DSPSealKey)
	if err != nil { // a key of the wrong size: no token can be kept or opened, and it says so
		s.Logger.Error("dsp peers: the DSP sealing key", "error", err)
		p, _ = dsp.NewPeers(s.DB, nil)
	}
	return p
}

// dspConsumer is the Contract Negotiation Protocol's consumer side; its requests leave
// through the same guarded client as every protocol request to an address a
// participant gave (dspHTTP).
func (s *Server) dspConsumer() *dsp.ConsumerService {
	return &dsp.ConsumerService{Auth: s.dspAuth(), DB: s.DB, Peers: s.dspPeers(), Client: &dsp.Client{HTTP: s.dspHTTP()}, Logger: s.Logger}
}

// dspConsumerRoutes mounts the peers' and the consumer negotiations' REST endpoints and
// the provider's negotiation callbacks.
func (s *Server) dspConsumerRoutes(mux *http.ServeMux) {
	const peers = "/api/v1/dsp/peers"
	register(s, http.MethodPost, "register-dsp-peer", peers, "Register another connector as a DSP peer, or replace its registration (operator): its owner, a registered participant, its DSP base address and the token it issued to this exchange, sealed and never shown; 201 when new, 200 when replaced", "dsp", s.registerDSPPeer)
	get(s, "list-dsp-peers", peers, "The DSP peers (operator); their tokens are never shown", "dsp", s.listDSPPeers)
	get(s, "get-dsp-peer", peers+"/{participant_id}", "A DSP peer (operator)", "dsp", s.getDSPPeer)
	register(s, http.MethodDelete, "remove-dsp-peer", peers+"/{participant_id}", "Remove a DSP peer (operator): nothing more is sent to its connector", "dsp", s.removeDSPPeer)
	get(s, "dsp-peer-catalog", peers+"/{participant_id}/catalog", "A peer's catalog (buyers): its datasets with their offers, read from its connector with the Catalog Protocol and validated, pages followed", "dsp", s.dspPeerCatalog)

	const negotiations = "/api/v1/dsp/consumer/negotiations"
	register(s, http.MethodPost, "request-consumer-negotiation", negotiations, "Negotiate a contract with a peer's provider (the buyer): the Contract Request Message for an offer of its catalog is sent, and the negotiation recorded once the provider answers", "dsp", s.requestConsumerNegotiation, created)
	get(s, "list-consumer-negotiations", negotiations, "The caller's negotiations as consumer, newest first (the operator and regulators: all)", "dsp", s.listConsumerNegotiations)
	get(s, "get-consumer-negotiation", negotiations+"/{id}", "A negotiation as consumer: its state, the offer on the table, the provider's agreement", "dsp", s.getConsumerNegotiation)
	register(s, http.MethodPost, "accept-consumer-negotiation", negotiations+"/{id}/accept", "Accept the provider's offer (the buyer): the ACCEPTED event is sent, recorded once acknowledged", "dsp", s.acceptConsumerNegotiation)
	register(s, http.MethodPost, "counter-consumer-negotiation", negotiations+"/{id}/request", "Answer the provider's offer with a counter-offer (the buyer): a Contract Request Message, recorded once acknowledged", "dsp", s.counterConsumerNegotiation)
	register(s, http.MethodPost, "verify-consumer-negotiation", negotiations+"/{id}/verify", "Verify the provider's agreement (the buyer): the verification message, with the buyer's Ed25519 signature over the agreement's contract when given, recorded once acknowledged", "dsp", s.verifyConsumerNegotiation)
	register(s, http.MethodPost, "terminate-consumer-negotiation", negotiations+"/{id}/terminate", "Terminate the negotiation (the buyer): the termination message is sent, recorded once acknowledged", "dsp", s.terminateConsumerNegotiation)

	// The provider's messages (DSP 2025-1, "Contract Negotiation HTTPS Binding", the
	// consumer's callback endpoints, under the callback address dataport gives).
	c := s.dspConsumer()
	mux.HandleFunc("GET "+dspPath+"/callback/negotiations/{consumerPid}", c.ServeGet)
	mux.HandleFunc("POST "+dspPath+"/callback/negotiations/offers", c.ServeInitialOffer)
	mux.HandleFunc("POST "+dspPath+"/callback/negotiations/{consumerPid}/offers", c.ServeOffer)
	mux.HandleFunc("POST "+dspPath+"/callback/negotiations/{consumerPid}/agreement", c.ServeAgreement)
	mux.HandleFunc("POST "+dspPath+"/callback/negotiations/{consumerPid}/events", c.ServeEvent)
	mux.HandleFunc("POST "+dspPath+"/callback/negotiations/{consumerPid}/termination", c.ServeTermination)
}

// Peers.

type dspPeerOutput struct {
	Status   int
	Location string `header:"Location"`
	Body     dsp.Peer
}

type registerDSPPeerInput struct {
	Body dsp.NewPeer
}

func (s *Server) registerDSPPeer(ctx context.Context, in *registerDSPPeerInput) (*dspPeerOutput, error) {
	p, created, err := s.dspPeers().Register(ctx, actorOf(ctx), in.Body)
	if err != nil {
		return nil, s.problem(err)
	}
	out := &dspPeerOutput{Status: http.StatusOK, Location: "/api/v1/dsp/peers/" + url.PathEscape(p.ParticipantID), Body: p}
	if created {
		out.Status = http.StatusCreated
	}
	return out, nil
}

type dspPeersOutput struct {
	Body struct {
		Items []dsp.Peer `json:"items"`
	}
}

func (s *Server) listDSPPeers(ctx context.Context, _ *struct{}) (*dspPeersOutput, error) {
	ps, err := s.dspPeers().List(ctx, actorOf(ctx))
	if err != nil {
		return nil, s.problem(err)
	}
	out := &dspPeersOutput{}
	out.Body.Items = ps
	return out, nil
}

type dspPeerPath struct {
	ParticipantID string `path:"participant_id" maxLength:"100" doc:"the participant that owns the connector"`
}

func (s *Server) getDSPPeer(ctx context.Context, in *dspPeerPath) (*dspPeerOutput, error) {
	p, err := s.dspPeers().Get(ctx, actorOf(ctx), in.ParticipantID)
	if err != nil {
		return nil, s.problem(err)
	}
	return &dspPeerOutput{Status: http.StatusOK, Body: p}, nil
}

func (s *Server) removeDSPPeer(ctx context.Context, in *dspPeerPath) (*dspPeerOutput, error) {
	p, err := s.dspPeers().Remove(ctx, actorOf(ctx), in.ParticipantID)
	if err != nil {
		return nil, s.problem(err)
	}
	return &dspPeerOutput{Status: http.StatusOK, Body: p}, nil
}

type dspPeerCatalogOutput struct {
	Body dsp.RemoteCatalog
}

func (s *Server) dspPeerCatalog(ctx context.Context, in *dspPeerPath) (*dspPeerCatalogOutput, error) {
	c, err := s.dspConsumer().RemoteCatalog(ctx, actorOf(ctx), in.ParticipantID)
	if err != nil {
		return nil, s.problem(err)
	}
	return &dspPeerCatalogOutput{Body: c}, nil
}

// Consumer negotiations.

type consumerNegotiationOutput struct {
	Location string `header:"Location"`
	Body     dsp.ConsumerNegotiation
}

func (s *Server) consumerNegotiation(n dsp.ConsumerNegotiation, err error) (*consumerNegotiationOutput, error) {
	if err != nil {
		return nil, s.problem(err)
	}
	return &consumerNegotiationOutput{Body: n}, nil
}

type requestConsumerNegotiationInput struct {
	Body dsp.NewConsumerNegotiation
	root string
}

// Resolve takes the address the request came to, the root of the callback address the
// provider is given, as dsp.CatalogService derives its endpoint's.
func (in *requestConsumerNegotiationInput) Resolve(ctx huma.Context) []error {
	scheme := "http"
	if ctx.TLS() != nil {
		scheme = "https"
	}
	in.root = scheme + "://" + ctx.Host()
	return nil
}

func (s *Server) requestConsumerNegotiation(ctx context.Context, in *requestConsumerNegotiationInput) (*consumerNegotiationOutput, error) {
	out, err := s.consumerNegotiation(s.dspConsumer().Request(ctx, actorOf(ctx), in.Body, dspCallbackAddress(in.root)))
	if out != nil {
		out.Location = "/api/v1/dsp/consumer/negotiations/" + url.PathEscape(out.Body.ID)
	}
	return out, err
}

type consumerNegotiationsInput struct {
	Limit int `query:"limit" minimum:"1" maximum:"200" default:"50"`
}

type consumerNegotiationsOutput struct {
	Body struct {
		Items []dsp.ConsumerNegotiation `json:"items"`
	}
}

func (s *Server) listConsumerNegotiations(ctx context.Context, in *consumerNegotiationsInput) (*consumerNegotiationsOutput, error) {
	ns, err := s.dspConsumer().List(ctx, actorOf(ctx), in.Limit)
	if err != nil {
		return nil, s.problem(err)
	}
	out := &consumerNegotiationsOutput{}
	out.Body.Items = ns
	return out, nil
}

type consumerNegotiationPath struct {
	ID string `path:"id" maxLength:"100" doc:"the negotiation's id"`
}

func (s *Server) getConsumerNegotiation(ctx context.Context, in *consumerNegotiationPath) (*consumerNegotiationOutput, error) {
	return s.consumerNegotiation(s.dspConsumer().Get(ctx, actorOf(ctx), in.ID))
}

func (s *Server) acceptConsumerNegotiation(ctx context.Context, in *consumerNegotiationPath) (*consumerNegotiationOutput, error) {
	return s.consumerNegotiation(s.dspConsumer().Accept(ctx, actorOf(ctx), in.ID))
}

type counterConsumerNegotiationInput struct {
	ID   string `path:"id" maxLength:"100" doc:"the negotiation's id"`
	Body struct {
		Offer map[string]any `json:"offer" doc:"the buyer's counter-offer: an ODRL offer of the negotiated dataset (its target)"`
	}
}

func (s *Server) counterConsumerNegotiation(ctx context.Context, in *counterConsumerNegotiationInput) (*consumerNegotiationOutput, error) {
	return s.consumerNegotiation(s.dspConsumer().CounterRequest(ctx, actorOf(ctx), in.ID, in.Body.Offer))
}

type verifyConsumerNegotiationInput struct {
	ID   string               `path:"id" maxLength:"100" doc:"the negotiation's id"`
	Body *dsp.VerifySignature `required:"false"`
}

func (s *Server) verifyConsumerNegotiation(ctx context.Context, in *verifyConsumerNegotiationInput) (*consumerNegotiationOutput, error) {
	var sig dsp.VerifySignature
	if in.Body != nil {
		sig = *in.Body
	}
	return s.consumerNegotiation(s.dspConsumer().Verify(ctx, actorOf(ctx), in.ID, sig))
}

type terminateConsumerNegotiationInput struct {
	ID   string `path:"id" maxLength:"100" doc:"the negotiation's id"`
	Body struct {
		Reason string `json:"reason" minLength:"1" maxLength:"1000"`
	}
}

func (s *Server) terminateConsumerNegotiation(ctx context.Context, in *terminateConsumerNegotiationInput) (*consumerNegotiationOutput, error) {
	return s.consumerNegotiation(s.dspConsumer().Terminate(ctx, actorOf(ctx), in.ID, in.Body.Reason))
}
