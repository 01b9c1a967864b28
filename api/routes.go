package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
)

// routes lists every endpoint of the exchange's HTTP surface.
func (s *Server) routes(mux *http.ServeMux) {
	// Operations: plain handlers, outside the OpenAPI document.
	mux.Handle("GET /metrics", s.metrics.handler)
	mux.Handle("GET /{$}", http.RedirectHandler("/docs", http.StatusFound)) // a server without the console (Deps.Console nil): / leads to the docs
	mux.Handle("GET /docs", s.docsHandler())
	mux.Handle("GET /docs/", s.docsHandler())

	// System. /openapi.json and /openapi.yaml are served by huma.
	get(s, "healthz", "/healthz", "Liveness: the process is up", "system", s.healthz)
	get(s, "readyz", "/readyz", "Readiness: the database answers and is migrated", "system", s.readyz)
	get(s, "version", "/version", "The running version", "system", s.version)
	get(s, "get-me", "/api/v1/me", "The caller: participant, key and roles", "registry", s.me)

	// Registry: participants (数商).
	register(s, http.MethodPost, "create-participant", "/api/v1/participants", "Register an organisation (operator)", "registry", s.createParticipant, created)
	get(s, "list-participants", "/api/v1/participants", "List participants (operator and regulators: all; others: themselves)", "registry", s.listParticipants)
	get(s, "get-participant", "/api/v1/participants/{id}", "Read a participant", "registry", s.getParticipant)
	register(s, http.MethodPatch, "update-participant", "/api/v1/participants/{id}", "Change a participant (operator: any field; a participant: its contact)", "registry", s.updateParticipant)
	register(s, http.MethodPost, "review-kyc", "/api/v1/participants/{id}/kyc", "Record the KYC review (operator)", "registry", s.reviewKYC)
	register(s, http.MethodPut, "set-whitelist", "/api/v1/participants/{id}/whitelist", "Put a domestic agent on the cross-border whitelist (operator)", "registry", s.setWhitelist)
	register(s, http.MethodDelete, "remove-whitelist", "/api/v1/participants/{id}/whitelist", "Take an agent off the whitelist (operator)", "registry", s.removeWhitelist)
	register(s, http.MethodPost, "suspend-participant", "/api/v1/participants/{id}/suspend", "Suspend a participant at once, 叫停 (operator)", "registry", s.suspend)
	register(s, http.MethodPost, "resume-participant", "/api/v1/participants/{id}/resume", "Lift a suspension (operator)", "registry", s.resume)

	// Registry: API keys and signing keys.
	register(s, http.MethodPost, "create-api-key", "/api/v1/participants/{id}/api-keys", "Issue an API key; its token is shown once", "registry", s.createAPIKey, created)
	get(s, "list-api-keys", "/api/v1/participants/{id}/api-keys", "List a participant's API keys (never their secrets)", "registry", s.listAPIKeys)
	register(s, http.MethodDelete, "revoke-api-key", "/api/v1/participants/{id}/api-keys/{key_id}", "Revoke an API key at once", "registry", s.revokeAPIKey)
	register(s, http.MethodPost, "add-signing-key", "/api/v1/participants/{id}/signing-keys", "Register an Ed25519 public key", "registry", s.addSigningKey, created)
	get(s, "list-signing-keys", "/api/v1/participants/{id}/signing-keys", "List a participant's public signing keys", "registry", s.listSigningKeys)
	register(s, http.MethodDelete, "revoke-signing-key", "/api/v1/participants/{id}/signing-keys/{key_id}", "Revoke a signing key", "registry", s.revokeSigningKey)

	// Catalog: data products and the listing workflow (上架).
	register(s, http.MethodPost, "create-product", "/api/v1/products", "Create a draft product (a domestic supplier for itself; an agent for a foreign supplier, R22)", "catalog", s.createProduct, created)
	get(s, "search-products", "/api/v1/products", "Search listed products in Chinese and English, with filters, facets and highlighted titles", "catalog", s.searchProducts)
	get(s, "get-product", "/api/v1/products/{id}", "Read a product (its parties and the operator: any state; others: listed only)", "catalog", s.getProduct)
	register(s, http.MethodPut, "revise-product", "/api/v1/products/{id}/details", "Revise a product: a new revision (a listed product's goes through review as a pending change while the listed one stays on show)", "catalog", s.reviseProduct)
	get(s, "product-certificate", "/api/v1/products/{id}/certificate", "The registration certificate of the product's latest listing, signed by the exchange, with its filing", "catalog", s.productCertificate)
	get(s, "product-revisions", "/api/v1/products/{id}/revisions", "Every revision of a product", "catalog", s.productRevisions)
	register(s, http.MethodPost, "submit-product", "/api/v1/products/{id}/submit", "Submit for review (R20: compliance report and use scenario required)", "catalog", s.submitProduct)
	register(s, http.MethodPost, "review-product", "/api/v1/products/{id}/review", "Start the review (operator)", "catalog", s.reviewProduct)
	register(s, http.MethodPost, "approve-product", "/api/v1/products/{id}/approve", "List the product: registration number and filed certificate (operator)", "catalog", s.approveProduct)
	register(s, http.MethodPost, "reject-product", "/api/v1/products/{id}/reject", "Reject with reasons (operator)", "catalog", s.rejectProduct)
	register(s, http.MethodPost, "suspend-product", "/api/v1/products/{id}/suspend", "Suspend a listed product (operator)", "catalog", s.suspendProduct)
	register(s, http.MethodPost, "resume-product", "/api/v1/products/{id}/resume", "List a suspended product again (operator)", "catalog", s.resumeProduct)
	register(s, http.MethodPost, "delist-product", "/api/v1/products/{id}/delist", "Delist a product (its supplier or agent, or the operator)", "catalog", s.delistProduct)

	get(s, "review-queue", "/api/v1/review-queue", "Products and pending changes awaiting review, oldest first (operator and regulators)", "catalog", s.reviewQueue)
	get(s, "participant-products", "/api/v1/participants/{id}/products", "A participant's products in every state, as supplier or agent (the participant, the operator and regulators)", "catalog", s.participantProducts)
	register(s, http.MethodPost, "upload-attachment", "/api/v1/attachments", "Upload a listing document (compliance assessment, description, quality report) as the raw body; cite it by its SHA-256 (suppliers and agents)", "catalog", s.uploadAttachment, created, binaryBody)
	get(s, "list-attachments", "/api/v1/attachments", "The caller's uploaded attachments, newest first", "catalog", s.listAttachments)
	get(s, "product-attachment", "/api/v1/products/{id}/attachments/{sha256}", "Download an attachment a product revision cites (Range requests; ETag is the SHA-256)", "catalog", s.productAttachment)

	register(s, http.MethodPost, "post-demand", "/api/v1/demands", "Post a demand (buyers): listed products that fit it are matched now and as they are listed", "catalog", s.postDemand, created)
	get(s, "demand-matches", "/api/v1/demands/{id}/matches", "Listed products that fit a demand, ranked, each with why", "catalog", s.demandMatches)
	register(s, http.MethodPost, "close-demand", "/api/v1/demands/{id}/close", "Close a demand (its buyer)", "catalog", s.closeDemand)
	register(s, http.MethodPost, "make-quote", "/api/v1/demands/{id}/quotes", "Quote a listed product for a demand (its supplier or agent)", "catalog", s.makeQuote, created)
	get(s, "demand-quotes", "/api/v1/demands/{id}/quotes", "A demand's quotes (its buyer: all; a supplier: its own)", "catalog", s.demandQuotes)
	register(s, http.MethodPost, "accept-quote", "/api/v1/quotes/{id}/accept", "Accept a quote (the demand's buyer)", "catalog", s.acceptQuote)
	register(s, http.MethodPost, "decline-quote", "/api/v1/quotes/{id}/decline", "Decline a quote (the demand's buyer)", "catalog", s.declineQuote)
	mux.HandleFunc("GET /catalog.jsonld", s.catalogJSONLD) // DCAT 3, public, for harvesters

	// The Dataspace Protocol 2025-1 (api/dsp.go): the version metadata, public, and under
	// dspPath the Catalog Protocol's provider endpoints, authenticated by dsp.APIKeys and
	// answering in the protocol's messages (dspFirst in server.go routes them past the
	// REST authentication).
	mux.Handle("GET "+dspWellKnownPath, s.dspVersion())
	dspCatalog := s.dspCatalog()
	mux.HandleFunc("POST "+dspPath+"/catalog/request", dspCatalog.ServeCatalog)
	mux.HandleFunc("GET "+dspPath+"/catalog/datasets/{id}", dspCatalog.ServeDataset)
	// The Contract Negotiation Protocol's provider endpoints (dsp.NegotiationService over
	// trade); the provider's moves, made through the deal endpoints, are posted to the
	// consumer's callback address by dspFirst (api/dsp.go, dspNotify).
	dspNegotiations := s.dspNegotiations()
	mux.HandleFunc("POST "+dspPath+"/negotiations/request", dspNegotiations.ServeRequest)
	mux.HandleFunc("GET "+dspPath+"/negotiations/{providerPid}", dspNegotiations.ServeGet)
	mux.HandleFunc("POST "+dspPath+"/negotiations/{providerPid}/request", dspNegotiations.ServeCounterRequest)
	mux.HandleFunc("POST "+dspPath+"/negotiations/{providerPid}/events", dspNegotiations.ServeEvent)
	mux.HandleFunc("POST "+dspPath+"/negotiations/{providerPid}/agreement/verification", dspNegotiations.ServeVerification)
	mux.HandleFunc("POST "+dspPath+"/negotiations/{providerPid}/termination", dspNegotiations.ServeTermination)
	// The Transfer Process Protocol's provider endpoints (dsp.TransferService over the
	// deals' deliveries, api/dsp_transfer.go); the provider's moves are the REST
	// endpoints below, and a started pull's data address serves the deal's manifest and
	// files to the bearer of its token.
	mux.HandleFunc("POST "+dspPath+"/transfers/request", s.dspTransfers.ServeRequest)
	mux.HandleFunc("GET "+dspPath+"/transfers/{providerPid}", s.dspTransfers.ServeGet)
	mux.HandleFunc("POST "+dspPath+"/transfers/{providerPid}/start", s.dspTransfers.ServeStart)
	mux.HandleFunc("POST "+dspPath+"/transfers/{providerPid}/completion", s.dspTransfers.ServeCompletion)
	mux.HandleFunc("POST "+dspPath+"/transfers/{providerPid}/suspension", s.dspTransfers.ServeSuspension)
	mux.HandleFunc("POST "+dspPath+"/transfers/{providerPid}/termination", s.dspTransfers.ServeTermination)
	mux.HandleFunc("GET "+dspPath+"/data/{providerPid}", s.dspDataManifest)
	mux.HandleFunc("GET "+dspPath+"/data/{providerPid}/{path...}", s.dspDataFile)
	// DSP peers and the Contract Negotiation Protocol, dataport the consumer: the
	// operator's peers, the buyer's REST endpoints and the provider's callbacks
	// (api/dsp_consumer.go).
	s.dspConsumerRoutes(mux)
	// The Transfer Process Protocol, dataport the consumer: the buyer's REST endpoints
	// and the provider's callbacks (api/dsp_consumer_transfer.go).
	s.dspConsumerTransferRoutes(mux)

	// Compliance: rule packs, assessments, approvals (R1–R22).
	register(s, http.MethodPost, "assess", "/api/v1/compliance/assessments", "Assess inline facts (what-if) or a product by reference: allow, require or deny, with the rules, requirements and reasons", "compliance", s.assess)
	get(s, "list-rule-packs", "/api/v1/compliance/packs", "The rule packs, the active one marked", "compliance", s.listPacks)
	register(s, http.MethodPost, "upload-rule-pack", "/api/v1/compliance/packs", "Upload a rule pack (YAML): compiled and its cases run; refused with the rule and line (operator)", "compliance", s.uploadPack, created, yamlBody)
	get(s, "rule-pack-source", "/api/v1/compliance/packs/{version}", "A rule pack's YAML", "compliance", s.packSource)
	register(s, http.MethodPost, "activate-rule-pack", "/api/v1/compliance/packs/{version}/activate", "Put a rule pack in force; filed (operator)", "compliance", s.activatePack)
	register(s, http.MethodPost, "record-approval", "/api/v1/compliance/approvals", "Record an approval with its evidence (operator: any; an exporter: its own declarations and post-export reports)", "compliance", s.recordApproval, created)
	register(s, http.MethodPost, "revoke-approval", "/api/v1/compliance/approvals/{id}/revoke", "Revoke an approval (operator)", "compliance", s.revokeApproval)
	get(s, "participant-approvals", "/api/v1/participants/{id}/approvals", "An exporter's approvals (the exporter, the operator and regulators)", "compliance", s.participantApprovals)
	get(s, "expiry-queue", "/api/v1/compliance/expiry-queue", "Approvals lapsing within 60 working days and standard contracts filed late (operator and regulators)", "compliance", s.expiryQueue)
	get(s, "pi-counters", "/api/v1/participants/{id}/pi-counters", "An exporter's PI subjects exported this year (R14)", "compliance", s.piCounters)

	register(s, http.MethodPost, "propose-agency-contract", "/api/v1/agency-contracts", "Propose an agency contract between a foreign supplier and a domestic agent (R22): its canonical JSON is what both sign", "compliance", s.proposeContract, created)
	get(s, "get-agency-contract", "/api/v1/agency-contracts/{id}", "An agency contract with its signatures and certificate (its parties, the operator and regulators)", "compliance", s.getContract)
	register(s, http.MethodPost, "sign-agency-contract", "/api/v1/agency-contracts/{id}/signatures", "Sign the contract's canonical JSON with a registered Ed25519 key (its supplier and agent)", "compliance", s.signContract)
	register(s, http.MethodPost, "certify-agency-contract", "/api/v1/agency-contracts/{id}/certify", "Certify a contract both parties signed: the exchange's signature, filed (operator)", "compliance", s.certifyContract)
	register(s, http.MethodPost, "revoke-agency-contract", "/api/v1/agency-contracts/{id}/revoke", "End a contract (a party or the operator)", "compliance", s.revokeContract)
	get(s, "participant-agency-contracts", "/api/v1/participants/{id}/agency-contracts", "A participant's agency contracts", "compliance", s.participantContracts)
	get(s, "product-assessment", "/api/v1/products/{id}/assessment", "The product's last filed listing assessment (its parties, the operator and regulators)", "compliance", s.productAssessment)

	// Trade: deals in the states of the Dataspace Protocol, and the money.
	register(s, http.MethodPost, "request-deal", "/api/v1/deals", "Request a deal for a listed product (buyers): assessed at once; the price is held from the buyer's balance", "trade", s.requestDeal, created)
	get(s, "get-deal", "/api/v1/deals/{id}", "A deal, with the moves allowed now (its parties, the operator and regulators)", "trade", s.getDeal)
	register(s, http.MethodPost, "offer-deal", "/api/v1/deals/{id}/offer", "Offer or counter-offer (the provider: the supplier, or the agent for a foreign supplier)", "trade", s.offerDeal)
	register(s, http.MethodPost, "counter-request-deal", "/api/v1/deals/{id}/request", "Answer an offer with another price (the buyer)", "trade", s.counterRequestDeal)
	register(s, http.MethodPost, "accept-deal", "/api/v1/deals/{id}/accept", "Accept the offer (the buyer): its price is held", "trade", s.acceptDeal)
	get(s, "deal-contract", "/api/v1/deals/{id}/contract", "The deal's contract as canonical JSON: the draft to sign before agreement, the agreed one after", "trade", s.dealContract)
	register(s, http.MethodPost, "agree-deal", "/api/v1/deals/{id}/agree", "Agree with a signature over the contract (the provider): assessed again; deny terminates and refunds, unmet requirements hold", "trade", s.agreeDeal)
	register(s, http.MethodPost, "verify-deal", "/api/v1/deals/{id}/verify", "Verify the agreement with a signature over the contract (the buyer)", "trade", s.verifyDeal)
	register(s, http.MethodPost, "finalize-deal", "/api/v1/deals/{id}/finalize", "Finalise the deal (the provider): the exchange countersigns and stores the signed contract", "trade", s.finalizeDeal)
	register(s, http.MethodPost, "terminate-deal", "/api/v1/deals/{id}/terminate", "End a deal before it is finalised (either party): what is held is refunded", "trade", s.terminateDeal)
	register(s, http.MethodPost, "confirm-delivery", "/api/v1/deals/{id}/confirm", "Confirm delivery (the buyer): escrow released to the supplier, the agent's commission and the exchange's fee", "trade", s.confirmDelivery)
	get(s, "deal-certificate", "/api/v1/deals/{id}/certificate", "The transaction certificate of a completed deal, signed, with the C2SP tlog-proof of its filing (for dataport verify -certificate)", "trade", s.dealCertificate)
	register(s, http.MethodPost, "fund-balance", "/api/v1/participants/{id}/funding", "Record money a participant paid in (operator, from the bank statement; Idempotency-Key required)", "trade", s.fund)
	get(s, "entitlements", "/api/v1/participants/{id}/entitlements", "A buyer's entitlements from finalised deals: territory, term, uses left", "trade", s.entitlements)
	get(s, "balances", "/api/v1/participants/{id}/balances", "A participant's balances, supplier receivables and commissions", "trade", s.balances)

	// Delivery: a revision's files, uploaded resumably and sealed in a filed manifest;
	// entitled downloads with Range, and signed links.
	register(s, http.MethodPost, "start-upload", "/api/v1/products/{id}/revisions/{rev}/uploads", "Declare a file of a revision (its supplier or agent); send its bytes with PATCH /api/v1/uploads/{id}", "delivery", s.startUpload, created)
	get(s, "get-upload", "/api/v1/uploads/{id}", "An upload, with the bytes the server holds (Upload-Offset): resume from there", "delivery", s.getUpload)
	register(s, http.MethodPatch, "write-upload-chunk", "/api/v1/uploads/{id}", "Send bytes of an upload from Upload-Offset as the raw body; a broken chunk keeps what arrived", "delivery", s.writeChunk, streamedBody)
	register(s, http.MethodDelete, "abort-upload", "/api/v1/uploads/{id}", "Give an open upload up", "delivery", s.abortUpload)
	register(s, http.MethodPut, "put-file", "/api/v1/products/{id}/revisions/{rev}/files", "Store a whole file of a revision in one request, as the raw body (not resumable)", "delivery", s.putFile, streamedBody)
	get(s, "list-files", "/api/v1/products/{id}/revisions/{rev}/files", "A revision's files (its supplier, agent, the operator and regulators)", "delivery", s.listFiles)
	register(s, http.MethodPost, "seal-manifest", "/api/v1/products/{id}/revisions/{rev}/manifest", "Seal a revision's files: the manifest is stored and its Merkle root filed; the files are fixed", "delivery", s.sealManifest, created)
	get(s, "get-manifest", "/api/v1/products/{id}/revisions/{rev}/manifest", "A sealed manifest; with ?path= a file's inclusion proof in its Merkle root", "delivery", s.getManifest)
	get(s, "deal-manifest", "/api/v1/deals/{id}/manifest", "The files a deal delivers, with their hashes and Merkle root (the buyer)", "delivery", s.dealManifest)
	get(s, "download", "/api/v1/deals/{id}/download", "Download a file of a deal (the buyer, or a signed link): one use of the entitlement; Range resumes without another; ETag is the SHA-256", "delivery", s.download)
	register(s, http.MethodPost, "make-download-link", "/api/v1/deals/{id}/links", "A signed download link for another tool, valid up to 24 hours (the buyer)", "delivery", s.makeLink)
	get(s, "deal-deliveries", "/api/v1/deals/{id}/deliveries", "What a deal delivered: each download, started and completed", "delivery", s.dealDeliveries)

	// DSP transfers, dataport the provider (api/dsp_transfer.go): the deals' transfers to
	// foreign connectors, and the provider's moves, each posted to the consumer's callback.
	get(s, "deal-dsp-transfers", "/api/v1/deals/{id}/dsp-transfers", "A deal's DSP transfer processes, oldest first, with the state each consumer was told (the deal's parties, the operator and regulators)", "dsp", s.dealDSPTransfers)
	get(s, "get-dsp-transfer", "/api/v1/dsp/provider/transfers/{pid}", "A DSP transfer process of a deal (the deal's parties, the operator and regulators)", "dsp", s.getDSPTransfer)
	register(s, http.MethodPost, "start-dsp-transfer", "/api/v1/dsp/provider/transfers/{pid}/start", "Start a requested or suspended transfer (the supplier or its agent): the consumer is sent the start message, for a pull with a data address and a new token", "dsp", s.startDSPTransfer)
	register(s, http.MethodPost, "suspend-dsp-transfer", "/api/v1/dsp/provider/transfers/{pid}/suspend", "Suspend a started transfer (the supplier or its agent): its token is refused until it is started again; the consumer is sent the suspension message", "dsp", s.suspendDSPTransfer)
	register(s, http.MethodPost, "complete-dsp-transfer", "/api/v1/dsp/provider/transfers/{pid}/complete", "Complete a started transfer (the supplier or its agent): its token is revoked; the consumer is sent the completion message", "dsp", s.completeDSPTransfer)
	register(s, http.MethodPost, "terminate-dsp-transfer", "/api/v1/dsp/provider/transfers/{pid}/terminate", "Terminate a transfer (the supplier or its agent): its token is revoked, the deal goes on; the consumer is sent the termination message", "dsp", s.terminateDSPTransfer)

	// The mirror of foreign open data, and S3 access keys for the S3 endpoint.
	register(s, http.MethodPost, "register-upstream", "/api/v1/mirror/upstreams", "Register a foreign object store the mirror serves: an S3 endpoint and bucket, or an AWS Open Data Registry ARN and region (operator)", "mirror", s.registerUpstream, created)
	get(s, "list-upstreams", "/api/v1/mirror/upstreams", "The mirror's upstreams and its cache's usage (operator, regulators)", "mirror", s.listUpstreams)
	register(s, http.MethodDelete, "remove-upstream", "/api/v1/mirror/upstreams/{name}", "Stop mirroring an upstream and drop its cached objects (operator)", "mirror", s.removeUpstream)
	register(s, http.MethodPost, "sync-upstream", "/api/v1/mirror/upstreams/{name}/sync", "Prefetch an upstream's objects into the cache, streaming progress as JSON lines; resumable, with a bandwidth cap (operator)", "mirror", s.syncUpstream)
	register(s, http.MethodPost, "create-s3-key", "/api/v1/participants/{id}/s3-keys", "Issue an S3 access key for the S3 endpoint; its secret is shown once", "registry", s.createS3Key, created)
	get(s, "list-s3-keys", "/api/v1/participants/{id}/s3-keys", "A participant's S3 access keys, without secrets", "registry", s.listS3Keys)
	register(s, http.MethodDelete, "revoke-s3-key", "/api/v1/participants/{id}/s3-keys/{key_id}", "Revoke an S3 access key at once", "registry", s.revokeS3Key)

	// Harvest: international platforms whose catalogs the exchange lists.
	register(s, http.MethodPost, "add-harvest-source", "/api/v1/harvest/sources", "Register a platform to harvest: the AWS Open Data Registry, a CKAN portal, a DCAT catalog or a partner feed (operator)", "harvest", s.addSource, created)
	get(s, "list-harvest-sources", "/api/v1/harvest/sources", "The harvest sources (operator, regulators)", "harvest", s.listSources)
	get(s, "get-harvest-source", "/api/v1/harvest/sources/{id}", "A harvest source (operator, regulators)", "harvest", s.getSource)
	register(s, http.MethodPost, "run-harvest", "/api/v1/harvest/sources/{id}/runs", "Harvest a source now, streaming progress as JSON lines and then the run's report (operator)", "harvest", s.runHarvest)
	get(s, "list-harvest-runs", "/api/v1/harvest/sources/{id}/runs", "A source's runs, newest first: counts, errors by record with the reason, duration", "harvest", s.listRuns)

	// Notifications: the in-app inbox, and signed webhooks (Standard Webhooks 1.0).
	get(s, "inbox", "/api/v1/inbox", "The caller's notifications, newest first", "notify", s.inbox)
	register(s, http.MethodPost, "register-webhook", "/api/v1/webhooks", "Register an https endpoint: notifications are delivered there signed (ed25519, v1a) and retried for three days", "notify", s.registerWebhook, created)
	get(s, "list-webhooks", "/api/v1/webhooks", "The caller's webhooks with their public keys", "notify", s.listWebhooks)
	register(s, http.MethodDelete, "delete-webhook", "/api/v1/webhooks/{id}", "Delete a webhook; pending deliveries are cancelled", "notify", s.deleteWebhook)
	register(s, http.MethodPost, "rotate-webhook-key", "/api/v1/webhooks/{id}/rotate", "A new signing key; the old one also signs for 24 hours", "notify", s.rotateWebhook)
	register(s, http.MethodPost, "enable-webhook", "/api/v1/webhooks/{id}/enable", "Turn a disabled webhook back on", "notify", s.enableWebhook)
	get(s, "webhook-deliveries", "/api/v1/webhooks/{id}/deliveries", "A webhook's deliveries, newest first, with attempts and errors", "notify", s.webhookDeliveries)
	register(s, http.MethodPost, "redeliver", "/api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver", "Queue a failed delivery again", "notify", s.redeliver)

	// Ledger: filings (交易備案).
	get(s, "list-filings", "/api/v1/filings", "List filings (operator and regulators: all; others: those about themselves)", "ledger", s.listFilings)
	get(s, "get-filing", "/api/v1/filings/{seq}", "Read one filing with its canonical entry and a C2SP tlog-proof of its inclusion", "ledger", s.getFiling)
	get(s, "trace", "/api/v1/trace", "Every filing naming a subject, each with its inclusion proof (regulators and the operator: any subject)", "ledger", s.trace)
	get(s, "log-consistency", "/api/v1/log/consistency", "An RFC 6962 consistency proof between two tree sizes", "ledger", s.consistency)

	// Audit: the requests the server refused (401, 403, 413, 429), counted by minute (api/audit.go).
	get(s, "list-denials", "/api/v1/audit/denials", "Requests refused by minute, caller, client address, route, status and reason: bad keys, missing rights, oversized bodies, rate limits (operator and regulators)", "audit", s.listDenials)

	// The log, C2SP tlog-tiles: public, cacheable, for any tlog client.
	mux.HandleFunc("GET /log/checkpoint", s.logCheckpoint)
	mux.HandleFunc("GET /log/tile/{path...}", s.logTile)
	mux.HandleFunc("POST /log/cosignature", s.logCosignature)

	// Finance: merchants' shops, attested order data and features (融资).
	register(s, http.MethodPost, "connect-shop", "/api/v1/merchants/{id}/shops", "Connect a shop on an e-commerce platform to a merchant; filed (the merchant, the operator)", "finance", s.connectShop, created)
	get(s, "list-shops", "/api/v1/merchants/{id}/shops", "A merchant's shops (the merchant, the operator)", "finance", s.listShops)
	register(s, http.MethodPost, "ingest-batch", "/api/v1/merchants/{id}/batches", "Send a batch of order data, CSV or JSON lines, as the raw body: the good rows are kept, the bad ones reported by line and field, and the SHA-256 of the bytes received is filed (the merchant, the operator)", "finance", s.ingestBatch, created, orderDataBody)
	get(s, "list-batches", "/api/v1/merchants/{id}/batches", "A merchant's attested batches and stream chunks, newest first", "finance", s.listBatches)
	register(s, http.MethodPost, "stream-orders", "/api/v1/merchants/{id}/stream", "Send order data as a live stream of JSON lines, full duplex: each chunk is applied and attested as it arrives and answered with a JSON line of its report; the stream's report ends the answer", "finance", s.streamOrders, orderStreamBody)
	get(s, "merchant-features", "/api/v1/merchants/{id}/features", "A merchant's credit features over 7, 30 and 90 days as of a moment, per shop and in all, naming the attested data they rest on", "finance", s.merchantFeatures)
	get(s, "merchant-daily", "/api/v1/merchants/{id}/daily", "A merchant's order data day by day over its shops (orders, sales, returns, refunds, complaints) and its open receivables by due day: what its dashboard draws", "finance", s.merchantDaily)
	register(s, http.MethodPut, "set-live-limit-policy", "/api/v1/merchants/{id}/live-limit/policy", "Set a live seller's ad-spend limit policy (投流貸): floor, cap, multiplier, windows; filed (the operator)", "finance", s.setLivePolicy)
	get(s, "live-limit", "/api/v1/merchants/{id}/live-limit", "A live seller's ad-spend limit as of now, recomputed from its live order stream, with its inputs and last filed change (the merchant, the operator, regulators)", "finance", s.liveLimit)
	get(s, "live-limit-history", "/api/v1/merchants/{id}/live-limit/history", "The filed changes of a live seller's ad-spend limit, newest first, each with its reason and the chunk that caused it", "finance", s.liveLimitHistory)

	// Credit: scores, risk grades and credit lines (授信).
	register(s, http.MethodPost, "decide", "/api/v1/merchants/{id}/decisions", "Make a credit decision from the merchant's attested data: score, risk grade, PD, line and reasons, with the model id and feature hash; filed (the merchant, the operator)", "credit", s.decide, created)
	get(s, "list-decisions", "/api/v1/merchants/{id}/decisions", "A merchant's credit decisions, newest first (the merchant, the operator, regulators)", "credit", s.decisions)
	get(s, "latest-decision", "/api/v1/merchants/{id}/decisions/latest", "A merchant's latest credit decision (the merchant, the operator, regulators)", "credit", s.latestDecision)
	get(s, "get-decision", "/api/v1/decisions/{id}", "A credit decision (its merchant, the operator, regulators)", "credit", s.getDecision)
	get(s, "credit-model", "/api/v1/credit/model", "The credit model behind every decision: its id and card, scorecard, master scale (grades and PD bands) and line policy", "credit", s.creditModel)
	register(s, http.MethodPost, "list-merchant-data", "/api/v1/merchants/{id}/data-products", "List the merchant's own data, its attested orders or its credit summary, as a draft data product written from the data and citing its filings; needs consent: true and a purpose, filed with the draft (the merchant, holding the supplier role)", "credit", s.listMerchantData, created)

	// Lending: consents, banks' subscriptions, offers, applications, loans (融资).
	register(s, http.MethodPost, "grant-consent", "/api/v1/merchants/{id}/consents", "Consent to share the merchant's credit data (scope: score, features, orders) with the financial institutions it names, until it expires or is revoked; filed (the merchant itself)", "lending", s.grantConsent, created)
	get(s, "list-consents", "/api/v1/consents", "Consents in grant order (a merchant: its own; an institution: those naming it, showing only itself; the operator and regulators: all)", "lending", s.listConsents)
	get(s, "get-consent", "/api/v1/consents/{id}", "A consent, its status as of now", "lending", s.getConsent)
	register(s, http.MethodPost, "revoke-consent", "/api/v1/consents/{id}/revoke", "Revoke a consent at once: its open offers are withdrawn, loans already made stay; filed (the merchant)", "lending", s.revokeConsent)
	register(s, http.MethodPost, "create-subscription", "/api/v1/subscriptions", "Subscribe to offers on the credit decisions the criteria match, on the institution's terms, decided by its CEL rules (compiled now: a bad one is refused at rules[i].expr); filed with the rules' SHA-256, not the rules (a financial institution)", "lending", s.createSubscription, created)
	get(s, "list-subscriptions", "/api/v1/subscriptions", "Subscriptions (an institution: its own; the operator and regulators: all)", "lending", s.listSubscriptions)
	get(s, "get-subscription", "/api/v1/subscriptions/{id}", "A subscription with its rules (its institution, the operator and regulators)", "lending", s.getSubscription)
	register(s, http.MethodPut, "set-subscription-rules", "/api/v1/subscriptions/{id}/rules", "Replace the decision rules: a new rules version, compiled now; applications decided before keep theirs (the institution)", "lending", s.setRules)
	register(s, http.MethodPost, "pause-subscription", "/api/v1/subscriptions/{id}/pause", "No new offers; open ones stand until they expire (the institution, the operator)", "lending", s.pauseSubscription)
	register(s, http.MethodPost, "resume-subscription", "/api/v1/subscriptions/{id}/resume", "Make a paused subscription active again (the institution, the operator)", "lending", s.resumeSubscription)
	register(s, http.MethodPost, "cancel-subscription", "/api/v1/subscriptions/{id}/cancel", "End a subscription for good: its open offers are withdrawn (the institution, the operator)", "lending", s.cancelSubscription)
	get(s, "list-offers", "/api/v1/offers", "Offers in the order of their latest change (made, superseded, withdrawn, taken), after after_seq: the pull side of the signed lending.offer webhooks (an institution: its own; a merchant: its own; the operator and regulators: all)", "lending", s.listOffers)
	get(s, "get-offer", "/api/v1/offers/{id}", "An offer; an institution sees the merchant's credit data on it only while the consent is in force", "lending", s.getOffer)
	register(s, http.MethodPost, "create-application", "/api/v1/offers/{id}/applications", "Apply against an offer and be decided at once by the institution's rules: the decision with every rule's result and reasons, and the loan and its disbursement when approved; filed (the offer's merchant; Idempotency-Key makes it once-only)", "lending", s.apply, created, applyResponses)
	get(s, "list-applications", "/api/v1/applications", "Applications with their decisions (a merchant: its own; an institution: those made to it; the operator and regulators: all)", "lending", s.listApplications)
	get(s, "get-application", "/api/v1/applications/{id}", "An application with its decision, and its loan when approved", "lending", s.getApplication)
	get(s, "list-loans", "/api/v1/loans", "Loans (a merchant: its own; an institution: its own; the operator and regulators: all)", "lending", s.listLoans)
	get(s, "get-loan", "/api/v1/loans/{id}", "A loan: principal, interest, what is paid and outstanding, its disbursement, days overdue", "lending", s.getLoan)
	get(s, "loan-repayments", "/api/v1/loans/{id}/repayments", "A loan's repayments from the merchant's settling receivables (T+0), interest first", "lending", s.loanRepayments)
	get(s, "institution-portfolio", "/api/v1/institutions/{id}/portfolio", "An institution's book: open and closed loans, disbursed, outstanding and overdue, by grade and by product (the institution, the operator and regulators)", "lending", s.portfolio)
}

// maxBody caps request bodies: registry requests are small.
const maxBody = 64 << 10

type opOption func(*huma.Operation)

func created(o *huma.Operation) { o.DefaultStatus = http.StatusCreated }

// streamedBody documents a raw request body that is streamed, never held whole: its
// size is the service's business (a file may be far larger than any JSON body).
func streamedBody(o *huma.Operation) {
	o.MaxBodyBytes = -1
	o.RequestBody = &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
		"application/octet-stream": {Schema: &huma.Schema{Type: "string", Format: "binary"}},
	}}
}

func register[I, O any](s *Server, method, id, path, summary, tag string, h func(context.Context, *I) (*O, error), opts ...opOption) {
	o := huma.Operation{
		OperationID:  id,
		Method:       method,
		Path:         path,
		Summary:      summary,
		Tags:         []string{tag},
		MaxBodyBytes: maxBody,
		Security:     []map[string][]string{{"bearer": {}}},
	}
	if tag == "system" {
		o.Security = nil
	}
	for _, opt := range opts {
		opt(&o)
	}
	huma.Register(s.api, o, h)
}

func get[I, O any](s *Server, id, path, summary, tag string, h func(context.Context, *I) (*O, error)) {
	register(s, http.MethodGet, id, path, summary, tag, h)
}
