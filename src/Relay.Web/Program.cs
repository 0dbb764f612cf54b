// firezone-relay: parse the command line (flags, environment fallbacks, subcommands) and run the relay.
return Relay.Web.RelayCommandLine.Run(args);
