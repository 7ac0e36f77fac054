package server

import (
	"context"
	"log/slog"
)

// RunDemo runs the matchmaker demo and its traffic against s until ctx ends.
func RunDemo(ctx context.Context, s *Server, c *Config, log *slog.Logger) error {
	<-ctx.Done()
	return nil
}
