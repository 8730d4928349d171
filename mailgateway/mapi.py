"""MAPI property tags (MS-OXPROPS) that Outlook's two formats share: TNEF
(winmail.dat, mailgateway.tnef) and the .msg compound file
(mailgateway.outlook_msg) store a message and its attachments in the same
properties."""

PR_BODY = 0x1000
PR_RTF_COMPRESSED = 0x1009
PR_BODY_HTML = 0x1013
PR_INTERNET_CPID = 0x3FDE
PR_ATTACH_DATA = 0x3701
PR_ATTACH_FILENAME = 0x3704
PR_ATTACH_METHOD = 0x3705
PR_ATTACH_LONG_FILENAME = 0x3707
PR_ATTACH_MIME_TAG = 0x370E
PR_ATTACH_CONTENT_ID = 0x3712
ATTACH_EMBEDDED_MSG = 5  # PR_ATTACH_METHOD of an attached Outlook item
