from xinstruct.cli import main

main()
