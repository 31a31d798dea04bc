from carelake.cli import main

main()
