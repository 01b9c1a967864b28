package api

import (
	"context"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/trade"
)

type dealOutput struct {
	Location string `header:"Location"`
	Body     trade.Deal
}

func (s *Server) deal(d trade.Deal, err error) (*dealOutput, error) {
	if err != nil {
		return nil, s.problem(err)
	}
	return &dealOutput{Body: d}, nil
}

type requestDealInput struct {
	Body trade.NewDeal
}

func (s *Server) requestDeal(ctx context.Context, in *requestDealInput) (*dealOutput, error) {
	out, err := s.deal(s.Trade.Request(ctx, actorOf(ctx), in.Body))
	if out != nil {
		out.Location = "/api/v1/deals/" + out.Body.ID
	}
	return out, err
}

type dealPath struct {
	ID string `path:"id" doc:"deal id"`
}

func (s *Server) getDeal(ctx context.Context, in *dealPath) (*dealOutput, error) {
	return s.deal(s.Trade.Get(ctx, actorOf(ctx), in.ID))
}

type priceInput struct {
	ID   string `path:"id" doc:"deal id"`
	Body struct {
		Price int64 `json:"price,omitempty" minimum:"0" doc:"minor units; an offer without one keeps the price on the table"`
	}
}

func (s *Server) offerDeal(ctx context.Context, in *priceInput) (*dealOutput, error) {
	return s.deal(s.Trade.Offer(ctx, actorOf(ctx), in.ID, in.Body.Price))
}

func (s *Server) counterRequestDeal(ctx context.Context, in *priceInput) (*dealOutput, error) {
	return s.deal(s.Trade.CounterRequest(ctx, actorOf(ctx), in.ID, in.Body.Price))
}

// moneyMove is a deal move that may move money: it takes an Idempotency-Key.
type moneyMove struct {
	ID  string `path:"id" doc:"deal id"`
	Key string `header:"Idempotency-Key" maxLength:"200" doc:"a retry with the same key answers as the first request did"`
}

func (s *Server) acceptDeal(ctx context.Context, in *moneyMove) (*dealOutput, error) {
	return s.deal(s.Trade.Accept(ctx, actorOf(ctx), in.ID, in.Key))
}

type signedMove struct {
	ID   string `path:"id" doc:"deal id"`
	Key  string `header:"Idempotency-Key" maxLength:"200"`
	Body trade.Signature
}

func (s *Server) agreeDeal(ctx context.Context, in *signedMove) (*dealOutput, error) {
	return s.deal(s.Trade.Agree(ctx, actorOf(ctx), in.ID, in.Key, in.Body))
}

func (s *Server) verifyDeal(ctx context.Context, in *signedMove) (*dealOutput, error) {
	return s.deal(s.Trade.Verify(ctx, actorOf(ctx), in.ID, in.Body))
}

type contractOutput struct{ Body trade.ContractDraft }

func (s *Server) dealContract(ctx context.Context, in *dealPath) (*contractOutput, error) {
	c, err := s.Trade.Contract(ctx, actorOf(ctx), in.ID)
	if err != nil {
		return nil, s.problem(err)
	}
	return &contractOutput{Body: c}, nil
}

func (s *Server) finalizeDeal(ctx context.Context, in *dealPath) (*dealOutput, error) {
	return s.deal(s.Trade.Finalize(ctx, actorOf(ctx), in.ID))
}

type terminateDealInput struct {
	ID   string `path:"id" doc:"deal id"`
	Key  string `header:"Idempotency-Key" maxLength:"200"`
	Body struct {
		Reason string `json:"reason" minLength:"1" maxLength:"1000"`
	}
}

func (s *Server) terminateDeal(ctx context.Context, in *terminateDealInput) (*dealOutput, error) {
	return s.deal(s.Trade.Terminate(ctx, actorOf(ctx), in.ID, in.Body.Reason, in.Key))
}

func (s *Server) confirmDelivery(ctx context.Context, in *moneyMove) (*dealOutput, error) {
	return s.deal(s.Trade.ConfirmDelivery(ctx, actorOf(ctx), in.ID, in.Key))
}

type fundInput struct {
	ID   string `path:"id" doc:"participant id"`
	Key  string `header:"Idempotency-Key" required:"true" maxLength:"200" doc:"e.g. the bank statement line: a retry records nothing new"`
	Body struct {
		Amount dataport.Money `json:"amount"`
	}
}

type balanceOutput struct{ Body trade.Balance }

func (s *Server) fund(ctx context.Context, in *fundInput) (*balanceOutput, error) {
	b, err := s.Trade.Fund(ctx, actorOf(ctx), in.ID, in.Body.Amount, in.Key)
	if err != nil {
		return nil, s.problem(err)
	}
	return &balanceOutput{Body: b}, nil
}

type balancesOutput struct {
	Body struct {
		Items []trade.Balance `json:"items"`
	}
}

func (s *Server) balances(ctx context.Context, in *participantPath) (*balancesOutput, error) {
	bs, err := s.Trade.Balances(ctx, actorOf(ctx), in.ID)
	if err != nil {
		return nil, s.problem(err)
	}
	out := &balancesOutput{}
	out.Body.Items = bs
	return out, nil
}

type dealCertificateInput struct {
	ID   string `path:"id" doc:"deal id"`
	Wait int    `query:"wait" minimum:"0" maximum:"60" doc:"wait up to this many seconds for a checkpoint to cover the certificate's filing"`
}

type dealCertificateOutput struct {
	Body struct {
		Certificate trade.TransactionCertificate `json:"certificate"`
		Canonical   string                       `json:"canonical" doc:"the certificate as RFC 8785 canonical JSON"`
		SignedNote  string                       `json:"signed_note" doc:"the exchange's signature: a note of the kind line and the canonical JSON"`
		VerifierKey string                       `json:"verifier_key" doc:"the exchange's key (the log's verifier key)"`
		FilingSeq   int64                        `json:"filing_seq"`
		Proof       string                       `json:"proof,omitempty" doc:"a C2SP tlog-proof of the filing, whose extra data is the filing itself; absent until a checkpoint covers it"`
	}
}

// dealCertificate returns a completed deal's certificate, signed, with the proof of
// its filing: the file `dataport verify -certificate` checks offline.
func (s *Server) dealCertificate(ctx context.Context, in *dealCertificateInput) (*dealCertificateOutput, error) {
	c, err := s.Trade.Certificate(ctx, actorOf(ctx), in.ID)
	if err != nil {
		return nil, s.problem(err)
	}
	signed, err := s.Log.SignStatement(trade.CertificateKind, []byte(c.Canonical))
	if err != nil {
		return nil, s.problem(err)
	}
	out := &dealCertificateOutput{}
	out.Body.Certificate, out.Body.Canonical, out.Body.SignedNote = c.Certificate, c.Canonical, string(signed)
	out.Body.VerifierKey, out.Body.FilingSeq = s.Log.VerifierKey(), c.Filing.Seq
	cp, covered := s.Log.Latest()
	if in.Wait > 0 && cp.Size < c.Filing.Seq {
		wctx, cancel := context.WithTimeout(ctx, time.Duration(in.Wait)*time.Second)
		cp, err = s.Log.WaitCovered(wctx, c.Filing.Seq)
		cancel()
		if err != nil {
			return nil, s.problem(err)
		}
		covered = true
	}
	if covered && cp.Size >= c.Filing.Seq {
		if out.Body.Proof, err = s.Log.ProofBundle(ctx, c.Filing, cp); err != nil {
			return nil, s.problem(err)
		}
	}
	return out, nil
}

type entitlementsOutput struct {
	Body struct {
		Items []trade.Entitlement `json:"items"`
	}
}

func (s *Server) entitlements(ctx context.Context, in *participantPath) (*entitlementsOutput, error) {
	es, err := s.Trade.Entitlements(ctx, actorOf(ctx), in.ID)
	if err != nil {
		return nil, s.problem(err)
	}
	out := &entitlementsOutput{}
	out.Body.Items = es
	return out, nil
}
