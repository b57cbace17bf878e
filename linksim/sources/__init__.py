"""Sources: what a link carries (images, video, text, speech) and how it is compressed.

``linksim.sources.codecs`` holds the conventional source codecs that the
separate source-channel coding baselines put in front of LDPC + QAM.
"""
