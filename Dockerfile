# firezone-relay: build in the .NET SDK image, run on the ASP.NET runtime image as a non-root user.
#   docker build -t firezone-relay .
#   docker run --rm --network host -e PUBLIC_IP4_ADDR=203.0.113.10 firezone-relay

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
# clang and the libbpf headers build the XDP program (bpf/) that ships next to the binary.
RUN apt-get update \
    && apt-get install -y --no-install-recommends clang libbpf-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Project files first so the restore layer is cached across source edits.
COPY Directory.Build.props ./
COPY src/Relay.Core/Relay.Core.csproj src/Relay.Core/
COPY src/Relay.Xdp/Relay.Xdp.csproj src/Relay.Xdp/
COPY src/Relay.Web/Relay.Web.csproj src/Relay.Web/
RUN dotnet restore src/Relay.Web/Relay.Web.csproj
COPY bpf/ bpf/
COPY src/ src/
RUN dotnet publish src/Relay.Web/Relay.Web.csproj -c Release -o /app --no-restore

FROM mcr.microsoft.com/dotnet/aspnet:10.0
# libbpf1 loads the XDP fast path (--ebpf-offloading); nothing else is added (the health check is the binary's own).
RUN apt-get update \
    && apt-get install -y --no-install-recommends libbpf1 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app ./
# STUN/TURN, the relay port range, and /healthz, /readyz, /metrics. The admin API stays on 127.0.0.1:9999.
EXPOSE 3478/udp 49152-65535/udp 8080
# The image's non-root user: the relay's ports are above 1024 and need no privilege. XDP (--ebpf-offloading) needs
# CAP_NET_ADMIN, CAP_BPF and CAP_PERFMON in the effective set, which a non-root user does not get from --cap-add:
# run it with --user 0 --cap-add NET_ADMIN --cap-add BPF --cap-add PERFMON (or --privileged).
USER $APP_UID
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 CMD ["/app/firezone-relay", "healthcheck"]
ENTRYPOINT ["/app/firezone-relay"]
