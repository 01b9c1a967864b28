package api

import (
	"context"

	"github.com/danielgtaylor/huma/v2"
	"github.com/dataport/dataport"
	"github.com/dataport/dataport/harvest"
)

type sourceOutput struct {
	Body harvest.Source
}

type addSourceInput struct {
	Body harvest.NewSource
}

func (s *Server) addSource(ctx context.Context, in *addSourceInput) (*sourceOutput, error) {
	src, err := s.Harvest.AddSource(ctx, actorOf(ctx), in.Body)
	if err != nil {
		return nil, s.problem(err)
	}
	return &sourceOutput{Body: src}, nil
}

type sourcesOutput struct {
	Body struct {
		Items []harvest.Source `json:"items"`
	}
}

func (s *Server) listSources(ctx context.Context, _ *struct{}) (*sourcesOutput, error) {
	srcs, err := s.Harvest.Sources(ctx, actorOf(ctx))
	if err != nil {
		return nil, s.problem(err)
	}
	out := &sourcesOutput{}
	out.Body.Items = srcs
	return out, nil
}

type sourcePath struct {
	ID string `path:"id" doc:"harvest source id"`
}

func (s *Server) getSource(ctx context.Context, in *sourcePath) (*sourceOutput, error) {
	src, err := s.Harvest.GetSource(ctx, actorOf(ctx), in.ID)
	if err != nil {
		return nil, s.problem(err)
	}
	return &sourceOutput{Body: src}, nil
}

type runsInput struct {
	ID    string `path:"id" doc:"harvest source id"`
	Limit int    `query:"limit" minimum:"1" maximum:"100" default:"20"`
}

type runsOutput struct {
	Body struct {
		Items []harvest.Report `json:"items"`
	}
}

func (s *Server) listRuns(ctx context.Context, in *runsInput) (*runsOutput, error) {
	rs, err := s.Harvest.Runs(ctx, actorOf(ctx), in.ID, in.Limit)
	if err != nil {
		return nil, s.problem(err)
	}
	out := &runsOutput{}
	out.Body.Items = rs
	return out, nil
}

// harvestLine is one line of a run's progress stream: progress, then the report.
type harvestLine struct {
	Done   int             `json:"done,omitempty"`
	Ref    string          `json:"ref,omitempty"`
	Report *harvest.Report `json:"report,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// runHarvest harvests a source now, streaming progress as JSON lines and ending
// with the run's report; dataport harvest draws them.
func (s *Server) runHarvest(ctx context.Context, in *sourcePath) (*huma.StreamResponse, error) {
	actor := actorOf(ctx)
	if _, err := s.Harvest.GetSource(ctx, actor, in.ID); err != nil {
		return nil, s.problem(err)
	}
	return jsonLines(func(ctx context.Context, send func(any)) {
		rep, err := s.Harvest.Run(ctx, actor, in.ID, func(done int, ref string) {
			if done%25 == 0 {
				send(harvestLine{Done: done, Ref: ref})
			}
		})
		l := harvestLine{Report: &rep}
		if err != nil {
			l.Error = dataport.MessageOf(err)
		}
		send(l)
	}), nil
}
