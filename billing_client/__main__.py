from billing_client.cli import main

raise SystemExit(main())
