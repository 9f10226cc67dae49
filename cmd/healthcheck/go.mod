module github.com/probation-recruitment/pipeline/cmd/healthcheck

go 1.27.3
