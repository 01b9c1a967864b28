package api

import (
	"context"

	"github.com/dataport/dataport/credit"
)

// Finance, part two: credit decisions — score, risk grade and credit line — and
// the merchant's data listed as a data product. Who may is the credit service's
// business (a decision: the merchant itself and the operator; reading: they and
// regulators; listing: the merchant alone, as a supplier; to others the merchant
// does not exist): these handlers decode, call and encode.

type decisionOutput struct {
	Location string `header:"Location"`
	Body     credit.Decision
}

func (s *Server) decide(ctx context.Context, in *merchantPath) (*decisionOutput, error) {
	d, err := s.Credit.Decide(ctx, actorOf(ctx), in.ID)
	if err != nil {
		return nil, s.problem(err)
	}
	return &decisionOutput{Location: "/api/v1/decisions/" + d.ID, Body: d}, nil
}

type decisionsInput struct {
	ID     string `path:"id" doc:"the merchant's participant id"`
	Before string `query:"before" doc:"only decisions older than this decision id: the next cursor of the previous page"`
	Limit  int    `query:"limit" minimum:"1" maximum:"1000" default:"100"`
}

type decisionsOutput struct {
	Body struct {
		Items []credit.Decision `json:"items"`
		Next  string            `json:"next,omitempty" doc:"pass as before= for the next page; absent on the last page"`
	}
}

func (s *Server) decisions(ctx context.Context, in *decisionsInput) (*decisionsOutput, error) {
	ds, err := s.Credit.History(ctx, actorOf(ctx), in.ID, in.Before, in.Limit)
	if err != nil {
		return nil, s.problemAt(err, map[string]string{"before": "query.before", "limit": "query.limit"})
	}
	out := &decisionsOutput{}
	out.Body.Items = ds
	if len(ds) == in.Limit {
		out.Body.Next = ds[len(ds)-1].ID
	}
	return out, nil
}

type oneDecisionOutput struct {
	Body credit.Decision
}

func (s *Server) latestDecision(ctx context.Context, in *merchantPath) (*oneDecisionOutput, error) {
	d, err := s.Credit.Latest(ctx, actorOf(ctx), in.ID)
	if err != nil {
		return nil, s.problem(err)
	}
	return &oneDecisionOutput{Body: d}, nil
}

type decisionPath struct {
	ID string `path:"id" doc:"the decision's id (cdec_…)"`
}

func (s *Server) getDecision(ctx context.Context, in *decisionPath) (*oneDecisionOutput, error) {
	d, err := s.Credit.Get(ctx, actorOf(ctx), in.ID)
	if err != nil {
		return nil, s.problem(err)
	}
	return &oneDecisionOutput{Body: d}, nil
}

type creditModelOutput struct {
	Body credit.ModelInfo
}

// creditModel describes the model and the policy behind every decision, to
// anyone with a key: a bank lending on a decision, or a regulator, reads how it
// was made.
func (s *Server) creditModel(ctx context.Context, _ *struct{}) (*creditModelOutput, error) {
	m, err := s.Credit.ModelInfo(actorOf(ctx))
	if err != nil {
		return nil, s.problem(err)
	}
	return &creditModelOutput{Body: m}, nil
}

type listDataInput struct {
	ID   string `path:"id" doc:"the merchant's participant id"`
	Body credit.NewDataProduct
}

func (s *Server) listMerchantData(ctx context.Context, in *listDataInput) (*productOutput, error) {
	p, err := s.Credit.ListData(ctx, actorOf(ctx), in.ID, in.Body)
	if err != nil {
		return nil, s.problem(err)
	}
	return &productOutput{Location: "/api/v1/products/" + p.ID, Body: p}, nil
}
