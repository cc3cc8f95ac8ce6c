from gateway.nginx import main

main()
