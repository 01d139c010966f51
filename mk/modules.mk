# mk/modules.mk — what the library is made of, shared by the Makefile and tests/fuzz/Makefile.
#
# The library is every .c file of these modules (bottom first, as their includes point);
# a module's files are found, not listed, so adding a file never means editing a Makefile.
MODULES := common dockerfile image layers registry emu store sandbox copy attest bake exec
# The pkg-config packages the library builds and links against (also slipway.pc's Requires).
PKGS    := libarchive libcurl jansson libseccomp libzstd libcrypto libisal yaml-0.1
