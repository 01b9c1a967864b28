package api

import (
	"context"

	"github.com/dataport/dataport/finance"
)

// Live ad-spend limits (投流貸): the operator sets a live seller's policy; the
// limit itself is recomputed by the finance service from the live order stream in
// the transaction of every chunk, and read here as of now.

type livePolicyInput struct {
	ID   string `path:"id" doc:"the merchant's participant id"`
	Body finance.NewLiveLimitPolicy
}

type livePolicyOutput struct {
	Body finance.LiveLimitPolicy
}

func (s *Server) setLivePolicy(ctx context.Context, in *livePolicyInput) (*livePolicyOutput, error) {
	p, err := s.Finance.SetLiveLimitPolicy(ctx, actorOf(ctx), in.ID, in.Body)
	if err != nil {
		return nil, s.problem(err)
	}
	return &livePolicyOutput{Body: p}, nil
}

type liveLimitOutput struct {
	Body finance.LiveLimit
}

func (s *Server) liveLimit(ctx context.Context, in *merchantPath) (*liveLimitOutput, error) {
	l, err := s.Finance.LiveLimit(ctx, actorOf(ctx), in.ID)
	if err != nil {
		return nil, s.problem(err)
	}
	return &liveLimitOutput{Body: l}, nil
}

type liveHistoryInput struct {
	ID     string `path:"id" doc:"the merchant's participant id"`
	Before int64  `query:"before" minimum:"0" doc:"only changes filed before this filing seq: the next cursor of the previous page"`
	Limit  int    `query:"limit" minimum:"1" maximum:"1000" default:"100"`
}

type liveHistoryOutput struct {
	Body struct {
		Items []finance.LiveLimitChange `json:"items"`
		Next  int64                     `json:"next,omitempty" doc:"pass as before= for the next page; absent on the last"`
	}
}

func (s *Server) liveLimitHistory(ctx context.Context, in *liveHistoryInput) (*liveHistoryOutput, error) {
	cs, err := s.Finance.LiveLimitHistory(ctx, actorOf(ctx), in.ID, in.Before, in.Limit)
	if err != nil {
		return nil, s.problem(err)
	}
	out := &liveHistoryOutput{}
	out.Body.Items = cs
	if len(cs) == in.Limit {
		out.Body.Next = cs[len(cs)-1].FilingSeq
	}
	return out, nil
}
