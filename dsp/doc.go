// Package dsp makes dataport a participant of the Eclipse Dataspace Protocol
// 2025-1 (DSP): a connector of an international data space browses the
// exchange's catalog, negotiates a contract and runs a transfer against dataport
// as against any other connector, and dataport does the same against it.
//
// This package holds the protocol itself and both of dataport's sides of it, which
// the API server mounts under /dsp: as provider, the Catalog Protocol's endpoints
// (CatalogService), the Contract Negotiation Protocol's over trade
// (NegotiationService) and the Transfer Process Protocol's over delivery
// (TransferService); as consumer, the peers it talks to (Peers), negotiations with
// their providers (ConsumerService) and transfers pulled from them
// (ConsumerTransfers). SCENARIOS.md maps the compatibility kit's 67 scenarios to
// the tests that run them.
//
// # Messages
//
// The release's JSON Schemas and JSON-LD contexts are embedded (spec/, unchanged,
// with their Apache 2.0 licence). Every schema is registered by its $id and the
// compiler's loader refuses any other URL, naming it: nothing is ever fetched.
// Validate checks a message against its kind's schema and says which field is
// wrong and why, as the protocol's error messages carry it. Three transfer
// schemas of the release refer to a definition as "#definitions/…", which JSON
// Schema 2019-09 reads as an anchor no schema has; they are registered with the
// pointer they mean, "#/definitions/…" (repairRefs). One example of the release,
// common/example/dataservice-did-service.json, fails its own schema (its
// serviceEndpoint does not end in /catalog); the tests pin that defect.
//
// Every message has a Go type (CatalogRequestMessage … TransferError,
// VersionResponse, DIDService) written with the compacted terms of the DSP
// context, which is how the specification's examples are written. Encode is how
// a message leaves dataport: it fills in "@context" and "@type" and refuses to
// write what its schema refuses. Decode is how one comes in: it validates, and a
// message written in another JSON-LD form of the same terms (prefixed,
// "dspace:providerPid", or expanded IRIs) is first compacted with the protocol's
// contexts (Compact), so that it is read by its meaning and not its spelling.
// What DCAT and ODRL objects carry beyond the schema (dct:title, a profile's
// terms) is kept in Extra and written back unchanged.
//
// # State machines
//
// NegotiationState.Next and TransferState.Next are the protocol's state machines
// ("Contract Negotiation Protocol" and "Transfer Process Protocol", "State
// Machine"): pure functions from a state, the sender's role and the message to
// the next state, or to a KindConflict error that names the state and the moves
// it admits. Both connectors run the same machine; the receiver of a message
// checks it, and so does the sender before sending. An error is answered with
// HTTP 400 and the protocol's error message, and the state stays as it was
// (StatusOf, CodeOf, WriteError). Unknown processes and callers who may not see
// them both get 404, as the bindings require.
//
// # The catalog
//
// The Catalog Protocol's provider side (CatalogService; DSP 2025-1, "Catalog
// Protocol" and "Catalog HTTPS Binding") serves the listed products that any
// participant sees through the REST search, with the same visibility: a product
// not listed, or whose supplier or agent is suspended, is absent from the catalog
// and its dataset is not found (404). POST <base>/catalog/request answers a
// Catalog, newest listing first, paged with Link headers (rel="next", and
// rel="prev previous" for the previous page) and filtered by the filter terms
// ParseFilter reads; GET <base>/catalog/datasets/:id answers one Dataset. Every
// body is encoded and validated by Encode. A request without a key that binds to a
// registered participant gets 401 with a CatalogError (catalogservice.go says why
// not 404, as negotiations and transfers answer).
//
// Identifiers (offer.go):
//
//	dataset      urn:dataport:product:<product id>                       ProductIRI
//	offer        urn:dataport:offer:<product id>:<revision>:<plan>       OfferID, ParseOfferID
//	participant  urn:dataport:participant:<participant id>               ParticipantIRI
//	data service <root>/dsp (its endpointURL; endpointDescription the version metadata)
//	format       HttpData-PULL (file), dataport-<mode> (the other modes)  FormatOf, DeliveryModeOf
//
// An offer is one price plan of the product's listed revision: <revision> is that
// revision and <plan> the plan's index in its price_plans, from 0, which is
// trade.NewDeal's Plan. A revision's details never change, so an offer id always
// names the same terms; a contract request naming an offer of a revision that is
// no longer the listed one is to be refused as stale. The offer permits "use" for
// the product's use scenarios (odrl:purpose isAnyOf), a subscription for its
// period (odrl:elapsedTime), with the duty to pay the plan's price
// (odrl:compensate, odrl:payAmount as an exact decimal, odrl:unit the currency);
// the usage policy text is its dct:rights (OfferOf).
//
// # Negotiations are deals
//
// A DSP contract negotiation in which dataport is the provider is a trade deal;
// the two state machines are the same (the trade package's moves table follows
// DSP 2025-1, and so does this one), so each DSP message is one trade call
// (NegotiationService, negotiationservice.go):
//
//	ContractRequestMessage (new)      trade.Request by the authenticated participant as buyer (without
//	                                  the buyer role: 404, as any caller not authorised; a balance that
//	                                  does not cover the price: 400): the offer's @id resolves with
//	                                  ParseOfferID to the product, its listed revision (another revision
//	                                  listed since: refused as stale) and the price plan; the scenario is
//	                                  the permission's odrl:purpose (eq, or isAnyOf of one; the product's
//	                                  only scenario when absent); purpose and delivery mode are dataport's
//	                                  extension properties (PropPurpose, PropDeliveryMode; default "other"
//	                                  and the product's first mode); a compensate duty's odrl:payAmount
//	                                  other than the plan's is a request at that price. Assessed, the
//	                                  price held in escrow, filed, as any deal. → 201, REQUESTED (or
//	                                  TERMINATED, with the rules' reasons, when the assessment denies it).
//	ContractOfferMessage              trade.Offer, by the supplier or its agent through the REST API;
//	                                  dsp then posts the message to the consumer's callback (Notify)
//	ContractRequestMessage (counter)  trade.CounterRequest: the counter-offer's price (its compensate
//	                                  duty); a counter-offer that changes the product, scenario, purpose,
//	                                  delivery mode or currency is refused naming them (400), as trade
//	                                  negotiates the price only
//	event ACCEPTED                    trade.Accept (the offered price is held)
//	ContractAgreementMessage          trade.Agree through the REST API (the provider's Ed25519 signature);
//	                                  the message carries the contract's policy as the ODRL Agreement
//	ContractAgreementVerification     trade.Verify with the consumer's signature (see Signatures)
//	event FINALIZED                   trade.Finalize through the REST API: the exchange countersigns
//	ContractNegotiationTermination    trade.Terminate, either side (refused once FINALIZED, as DSP
//	                                  requires); the message's code and reasons are the deal's reason
//
// Every message the consumer sends is checked, before anything else is done, in
// this order: the caller authenticated and the negotiation its own (404 otherwise,
// for unknown pids too), the message valid (400 INVALID_MESSAGE), its pids those of
// the path's negotiation (400), its move one the deal's current state admits from
// the consumer (400 INVALID_STATE_TRANSITION). Trade's own checks then apply (a
// suspended party pauses the deal: 400); a refused message changes nothing.
//
// The provider's moves. The supplier (or its agent) offers, agrees, finalises and
// terminates through the REST deal endpoints, as for any deal; after each such
// request the API server calls Notify, which compares the deal's state with the
// state the consumer was last told (the process table's) and, for a provider's
// move, checks it against the sender's state machine, encodes and validates the
// message and posts it with Client to <callback>/negotiations/:consumerPid/offers,
// …/agreement, …/events or …/termination. A consumer that refuses it or cannot be
// reached leaves the told state as it was, and the next Notify sends the message
// of the deal's state then: after the next move, or from SendOwed, which serve runs
// periodically. Each post presents the credentials the consumer's connector issued
// to this exchange, when it is a registered peer (Peers). The buyer's own moves made
// through the REST API are recorded, not sent.
//
// Identifiers. The deal keeps its id; the protocol sees IRIs made from it: the
// provider pid "urn:dataport:negotiation:<deal id>" (ProviderPIDOf), the
// agreement's @id "urn:dataport:deal:<deal id>" (what a transfer request's
// agreementId will name), a dataset's @id "urn:dataport:product:<product id>".
// The consumer's pid (unique per consumer), its callback address and the offer id
// are stored beside the deal in dsp_negotiations with the state the consumer was
// told, and every change is filed (dsp.negotiation_requested, _received, _sent,
// _consumer_moved). The row is written in its own transaction after the trade
// call, not in the deal's: the deal's state is what every check and GET use, and
// a request whose row cannot be written terminates its deal.
//
// Agreement ↔ signed contract. The contract (trade.Deal.Contract, RFC 8785
// canonical JSON, signed by both parties and countersigned) stays what binds; the
// DSP Agreement is its policy written in the DSP profile's terms: target the
// dataset's @id, assigner and assignee the parties' participant IRIs, timestamp
// the agreement's time, the permission "use" constrained to the scenario
// (odrl:purpose eq), the term (odrl:elapsedTime lteq P<n>D) and the uses
// (odrl:count lteq, a typed literal: the schema admits strings, objects and arrays
// only), with the duty to pay the agreed price; and as extension properties the
// contract itself (PropContract) and its SHA-256 (PropContractSHA256), the bytes
// the consumer signs.
//
// Signatures. The buyer verifies the agreement in one of two ways. A consumer whose
// participant registered a signing key sends its Ed25519 signature over the contract
// in the verification message as two extension properties, PropSigningKey and
// PropSignature (ContractAgreementVerificationMessage.SigningKey, .Signature), which
// trade.Verify checks (one without the other, or one that does not verify, is
// refused: 400, the negotiation stays AGREED). A connector that sends the bare
// message, as the protocol defines it and as foreign connectors do, verifies with
// the message itself: trade.VerifyByMessage records a trade.Assent — the protocol and
// message kind, the API key the message was authenticated with, and the SHA-256 of
// its RFC 8785 canonical JSON (MessageSHA256) beside the contract's — and the
// exchange's countersignature and the stored bundle cover it, so the record of who
// assented with which message cannot change afterwards.
//
// Provider-initiated negotiations ("[*] → OFFERED") have no trade counterpart:
// trade deals always begin with the buyer's request. dataport does not start
// negotiations as provider, and as consumer refuses an initial offer
// (<callback>/negotiations/offers) with the protocol's error: a negotiation needs a
// buyer who asked for it.
//
// # Transfers are deliveries
//
// A DSP transfer in which dataport is the provider delivers a finalized deal's
// files to its buyer (TransferService, transferservice.go; dsp_transfers). The
// request names the agreement's @id (DealIRIPrefix and the deal's id) of a
// FINALIZED deal the authenticated participant bought (without the buyer role:
// 404), the format HttpData-PULL (a file delivery, the only mode with a data
// plane), a consumer pid of its own and an absolute http(s) callback address;
// anything else is 400, naming the field. The transfer does not end the deal,
// which may have several. The provider's start is the supplier's (or its agent's)
// through the REST API, or dataport's own once the request is acknowledged
// (AutoStart, serve's default). For a pull it carries a data address: the endpoint
// <root><base>/data/<path-escaped provider pid>, type
// https://w3id.org/idsa/v4.1/HTTP, with the properties "authorization" (32 random
// bytes, base64url, kept only as its SHA-256 and valid for an hour) and "authType"
// "bearer". There the deal's manifest (GET) and its files (GET …/<path>) are served
// as the REST download serves them: each fresh GET is one delivery to the buyer
// (delivery.Open: a counted use and delivery.started; delivery.Complete at its last
// byte). No token, a wrong or expired one, or a transfer not STARTED gets 401 with
// WWW-Authenticate: Bearer. Suspension makes the token refused: the provider's
// restart issues a new one, and the consumer's restart makes the one it holds work
// again. Completion and termination revoke it. The consumer's completion is its
// confirmation of delivery (trade.ConfirmDelivery while the money is held; recorded
// only once it is settled). The row keeps the state the consumer was told. A
// message it refuses or cannot be reached for stays owed, and SendOwed, run by
// serve (SendOwedEvery), sends it again with a doubling backoff: first a start the
// consumer missed, then the rest. NegotiationService.SendOwed does the same for
// negotiations. Every change is filed (dsp.transfer_requested, _moved,
// _token_issued, _sent, _received).
//
// # dataport the consumer
//
// A connector the exchange talks to is a peer (peers.go, dsp_peers). Its owner is a
// registered participant whose connector authenticates to dataport with an API key
// the exchange issued it (APIKeys); the row adds the connector's DSP base address
// and the token that connector issued to the exchange, sealed with AES-GCM (Sealer)
// under a key derived from the exchange's secret and bound to the participant's id,
// presented as a Bearer token (Peers implements PeerCredentials, which the provider
// side uses for callbacks too; Peers.Connect), never shown. Only the operator
// registers and removes peers (dsp.peer_registered, dsp.peer_removed).
//
// A buyer reads a peer's catalog (CatalogPage: the request sent with the peer's
// credentials, the Catalog validated, rel="next" pages followed at the peer's origin
// only; also a DCAT harvest source at dsp:<participant id>, harvest/dsppeer) and
// negotiates with its provider (ConsumerService). Each of the buyer's moves is
// checked with NegotiationState.Next as consumer, validated by Encode, sent, and
// recorded and filed only once acknowledged; a refusal changes nothing. A request
// the provider refuses or cannot take leaves nothing behind: the negotiation exists
// once the provider's 201 names its pid. The consumer pid is
// urn:dataport:consumer-negotiation:<id> and the callback address
// <root>/dsp/callback. The provider's messages arrive at the binding's consumer
// paths and are checked: caller (the peer, else 404), message, pids, then state
// (else 400 INVALID_STATE_TRANSITION). An agreement is kept with its @id, which is
// what a transfer request names, and with the SHA-256 of the contract it carries,
// checked against the hash it states. FINALIZED makes the agreement transferable.
// Every change is filed (dsp.consumer_negotiation_requested, _sent, _received)
// about the negotiation, the buyer and the peer, so that between two dataport
// exchanges the deal is in both logs. Nothing signs for the buyer: it verifies with
// its own key's signature, or with the bare message (see Signatures).
//
// A buyer then asks the peer's provider for the data of the agreement
// (ConsumerTransfers.Request: TransferRequestMessage to <peer>/transfers/request,
// consumer pid urn:dataport:consumer-transfer:<id>; recorded once the provider
// answers 201). The buyer's moves are checked with TransferState.Next as consumer,
// sent, and recorded only when acknowledged; the provider's arrive at
// <callback>/transfers/:consumerPid/… and are checked as the negotiation's are (400
// TransferError). A start of a pull format carries an HTTP DataAddress, sealed at
// rest and bound to the transfer. Once the start is acknowledged, a background pull
// fetches the endpoint: a dataport provider answers with its manifest
// (delivery.Manifest), and each file is fetched from <endpoint>/<path> and verified
// for size and SHA-256 as it streams into the blob store; any other answer is
// stored as one file named "data". Transient failures are retried with a doubling
// backoff; suspension and termination stop the pull; a restart pulls what is
// missing; Resume restarts, at startup, the pulls a stop interrupted. With
// AutoComplete (serve's default) the exchange sends the completion once everything
// is verified. The buyer downloads what was pulled through the REST API. Every step
// is filed (dsp.consumer_transfer_*).
//
// Inbound data is not assessed by the rule pack here: the cross-border rules are
// the provider's exchange's to apply to its deal (as this exchange applies them to
// its own deals as provider), and R22's import rule concerns listing a foreign
// supplier's product on this exchange, not a buyer's pull from a foreign connector.
//
// # Identity
//
// DSP leaves the Authorization header's meaning to the data space. Every protocol
// request is bound to a registered participant by an Authenticator; the first
// scheme, APIKeys ("dataport-api-key", version 1), takes an API key the exchange
// issued to the participant, presented as a Bearer token (or bare, as some
// connectors send it), and resolves it with the registry, so a foreign connector
// is registered, checked and suspended as any participant is. The scheme is named
// in the version metadata's auth. Other profiles plug in behind the same interface:
// a Decentralized Claims Protocol authenticator would verify the self-issued ID
// token and the presented credentials and map the holder's DID to the participant
// registered with it. dataport's own requests carry Credentials: BearerToken for a
// key another dataport issued to this one, so two dataport instances register each
// other's operator (or buyer) as a participant and exchange keys.
package dsp
